"""Lowbit: low-precision GEMM accelerators for open FPGAs."""
