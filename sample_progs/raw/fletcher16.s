# Fletcher-16 checksum of the input memory, in the bpf_conformance assembler dialect.
# Raw-program convention: r1 points at the input memory, r2 is its length; r0 = checksum.
# Build: python3 -m emulator.asm sample_progs/raw/fletcher16.s
    mov %r3, 0              # sum1
    mov %r4, 0              # sum2
    mov %r5, 0              # index
loop:
    jge %r5, %r2, done
    mov %r6, %r1
    add %r6, %r5
    ldxb %r7, [%r6+0]
    add %r3, %r7
    mod %r3, 255
    add %r4, %r3
    mod %r4, 255
    add %r5, 1
    ja loop
done:
    mov %r0, %r4
    lsh %r0, 8
    or %r0, %r3
    exit
