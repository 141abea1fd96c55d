"""The host side of the on-board GEMM engine: protocol, transports and the numpy driver."""
