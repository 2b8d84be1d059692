"""emulator: the eBPF machine. ISA (one opcode table), assembler and disassembler, memory,
helpers, program types and the execution backends. It imports no UI toolkit and nothing of
bpfdbg: the debugger stands on it, never the other way round.
"""

from emulator.backends.base import Backend, Capabilities, LoadReport, NativeInsn, backend_names, create
from emulator.diagnostics import Diagnostic, Severity
from emulator.env import Environment, RunInput
from emulator.errors import AsmError, DecodeError, EmulatorError
from emulator.isa.insn import Insn, decode, decode_program
from emulator.program import Program
from emulator.state import (
    Fault,
    MachineState,
    MemWrite,
    RegWrite,
    StepEvent,
    StopCondition,
    StopEvent,
    StopReason,
)

__all__ = [
    "AsmError", "Backend", "Capabilities", "DecodeError", "Diagnostic", "EmulatorError",
    "Environment", "Fault", "Insn", "LoadReport", "MachineState", "MemWrite", "NativeInsn",
    "Program", "RegWrite", "RunInput", "Severity", "StepEvent", "StopCondition", "StopEvent",
    "StopReason", "backend_names", "create", "decode", "decode_program",
]  # fmt: skip
