"""cocotb testbenches and the simulator runner (Verilator by default, Icarus optional)."""
