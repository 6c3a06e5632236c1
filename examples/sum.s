# sum.s — adds up the bytes of its memory: r1 = pointer, r2 = length.
# Run it:  build/bpfrt run examples/sum.s --mem "01 02 03 04"
        mov %r0, 0
        jeq %r2, 0, done
loop:
        ldxb %r3, [%r1]
        add %r0, %r3
        add %r1, 1
        sub %r2, 1
        jne %r2, 0, loop
done:
        exit
