"""The ``nic`` backend: eBPF offloaded to an NFP SmartNIC (reference/nfp_offload.md).

The offload verifier (offload_verifier.py, with the device's capabilities from profiles.py)
decides whether the device takes a program; the translator (translate.py) turns it into
NFP-flavoured microcode (microcode.py) as the upstream JIT would; a simulator (sim.py) runs
that microcode over the device's memories (devmem.py), with host access to the device maps
through control messages (ctrl.py); backend.py puts them together behind the Backend
protocol. Importing this package is cheap: the backend is imported when it is created.
"""
