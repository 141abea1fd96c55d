"""Numpy golden models: number formats, bit-exact GEMM references and performance models.

Nothing here imports Amaranth or cocotb: these models are what the hardware is judged against,
so they stay plain numpy and are checked against independent references.
"""
