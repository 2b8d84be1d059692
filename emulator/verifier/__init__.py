"""Static analysis of eBPF programs.

:func:`analyse` explores every path of a program like the kernel verifier's ``do_check``
(without its safety checks) and records, per instruction visit, what each register and
spilled stack slot holds. The NIC offload backend builds its verifier and translator on it.
"""

from emulator.verifier.absint import DEFAULT_BUDGET, Analysis, SubprogInfo, Visit, analyse
from emulator.verifier.regstate import RegState, Spills

__all__ = ["DEFAULT_BUDGET", "Analysis", "RegState", "Spills", "SubprogInfo", "Visit", "analyse"]
