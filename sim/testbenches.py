"""Every core kind's cocotb testbench module, by kind name, and the test of each that runs a
GEMM of given operands (the run option ``operands``: an ``.npz`` of integer values ``a`` M×K and
``w`` K×N; :meth:`lowbit.sim.gemm_bench.GemmBench.given_operands`)."""

TESTBENCHES: dict[str, str] = {
    kind: f"lowbit.sim.tb_{kind}"
    for kind in ("mac", "systolic", "lut", "bitserial", "fmac", "fusion", "blockdot")
}

#: the option that hands a testbench its operands, and the test that reads it, per kind
OPERANDS_OPTION = "operands"
OPERAND_TESTS: dict[str, str] = {
    "mac": "gemm_full_rate", "systolic": "gemm_tiled", "lut": "gemm_tiled",
    "bitserial": "gemm_tiled", "fmac": "gemm_full_rate", "fusion": "gemm_full_rate",
}
