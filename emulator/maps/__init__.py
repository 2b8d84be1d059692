"""Maps with the kernel's semantics and errno values, one module per family.

``create_map(spec, ncpus)`` builds one map from a MapSpec; ``MapSet`` builds all maps of a
program with their initial contents and dumps them for ``bpfdbg run --json``. Every map
follows the :class:`Map` contract in base.py: program-side ``lookup`` hands out live
:class:`Element` buffers, and ``update``/``delete`` return 0 or the kernel's negative errno.
"""

from emulator.maps.base import (
    ENOTSUPP,
    Element,
    Map,
    MapCreateError,
    MapError,
    MapOpError,
    Value,
    errno_name,
)
from emulator.maps.factory import MAP_CLASSES, UnsupportedMapError, create_map
from emulator.maps.fdmaps import ProgRef
from emulator.maps.mapset import MapSet, dump_map
from emulator.maps.spec import BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, MapSpec, MapType

__all__ = [
    "BPF_ANY", "BPF_EXIST", "BPF_F_LOCK", "BPF_NOEXIST", "ENOTSUPP", "MAP_CLASSES", "Element", "Map",
    "MapCreateError", "MapError", "MapOpError", "MapSet", "MapSpec", "MapType", "ProgRef",
    "UnsupportedMapError", "Value", "create_map", "dump_map", "errno_name",
]  # fmt: skip
