"""Every core kind's cocotb testbench module, by kind name."""

TESTBENCHES: dict[str, str] = {
    kind: f"lowbit.sim.tb_{kind}"
    for kind in ("mac", "systolic", "lut", "bitserial", "fmac", "fusion", "blockdot")
}
