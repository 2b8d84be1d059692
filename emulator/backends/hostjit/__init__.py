"""``host-jit``: eBPF translated to x86-64 the way the Linux JIT does it, run under Unicorn.

Modules:

* ``x86``: encoding primitives and the JIT's fixed register mapping (R0=rax, R1=rdi, R2=rsi,
  R3=rdx, R4=rcx, R5=r8, R6=rbx, R7=r13, R8=r14, R9=r15, R10=rbp; AX=r10, AUX=r11);
* ``emitter``: one image per BPF function, kernel prologue/epilogue, per-instruction
  patterns, multi-pass jump-size convergence; every eBPF instruction keeps its native range;
* ``listing``: capstone listings (Intel or AT&T), per instruction or the whole image;
* ``layout``: native addresses (images, helper trampolines, the fake caller);
* ``cpu`` / ``native_memory`` / ``frames``: the emulated CPU, the data windows as MMIO over
  the machine's AddressSpace, call frames;
* ``backend``: the Backend and Debuggable protocols (stepping, running, faults, checkpoints);
* ``control``: what runs at trampolines (helpers, tail calls, bpf_loop / for_each callbacks,
  callx, legacy packet loads);
* ``kernel_compare``: our JIT of the kernel's xlated program beside the kernel's image.

Where host-jit differs from ``interp`` (the reference), on purpose:

* programs the verifier would reject and the interp still runs: falling off the end of a
  function into the next one faults ("end-of-program") instead of running on; a callx to an
  instruction that is not a function start faults ("callx"); a jump from one function into
  another is a load error ("jit");
* atomic operations on the context (which the verifier rejects) fault instead of going
  through the context handler;
* a legacy packet load (LD_ABS/LD_IND) past the packet ends the program with r0 = 0 as on
  interp, but host-jit's step event also lists that write of r0;
* memory faults carry the interpreter's message word for word (the backend contract compares
  them); the faulting x86 instruction is ``HostJitBackend.fault_rip()``. Faults only native
  execution can produce (an x86 exception, an access outside every mapping) have kind
  "native" and name the x86 rip in their message. Out-of-region accesses that hardware would
  not catch (inside a page, past a 512-byte frame, past the packet end) are caught anyway:
  every eBPF load and store is checked against the AddressSpace before it executes.

Native-code deviations from the kernel's JIT are listed in ``emitter.DEVIATIONS``.
"""
