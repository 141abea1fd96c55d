"""Amaranth generators: arithmetic units, PEs, arrays and the pieces they share."""
