#!/usr/bin/python3
"""prevail2kvt.py — converts PREVAIL's YAML verifier tests into bpfrt's
verifier-test format (.kvt, see tools/kvconvert.c), for tests/run_kverify.

    prevail2kvt.py OUT.kvt IN.yaml...

Each PREVAIL case is a code fragment in PREVAIL's assembly, a
pre-condition on the registers and the stack, and the error messages
PREVAIL reports ("messages"): none means the fragment is safe.  bpfrt keeps
the accept/refuse verdict only.  The converter assembles the fragment (its
own small assembler for PREVAIL's syntax), turns `assume C` into a jump past
a path end when C is false, ends a fragment that falls off its end with
`r0 = 0; exit`, and writes the pre-condition as `pre` lines that
run_kverify sets in the verifier's initial state:

    pre rN number [smin S] [smax S] [umin U] [umax U]
    pre rN ctx OFF | stack OFF [numeric N] | packet OFF | packet_end
    pre rN shared OFF SIZE | map_fd FD
    pre stack LO HI number [VALUE]      bytes [LO, HI) below r10's top (LO < 0)
    pre packet_size MIN

A case the converter cannot express (big-endian semantics, relations
between registers it would have to invent, an instruction it does not know)
is written as `skip REASON`, counted apart.
"""
import re
import struct
import sys

import yaml

REG = r'([rw])(\d+)'
ALU = {'+': 0x00, '-': 0x10, '*': 0x20, '/': 0x30, '|': 0x40, '&': 0x50, '<<': 0x60, '>>': 0x70,
       '%': 0x90, '^': 0xa0, 's>>': 0xc0, 's/': 0x30, 's%': 0x90}
JMP = {'==': 0x10, '>': 0x20, '>=': 0x30, '&': 0x40, '!=': 0x50, 's>': 0x60, 's>=': 0x70,
       '<': 0xa0, '<=': 0xb0, 's<': 0xc0, 's<=': 0xd0}
NEG = {'==': '!=', '!=': '==', '>': '<=', '<=': '>', '>=': '<', '<': '>=', 's>': 's<=', 's<=': 's>',
       's>=': 's<', 's<': 's>='}
SIZE = {'u8': 0x10, 'u16': 0x08, 'u32': 0x00, 'u64': 0x18, 's8': 0x10, 's16': 0x08, 's32': 0x00}
ATOMIC = {'+=': 0x00, '|=': 0x40, '&=': 0x50, '^=': 0xa0, 'x=': 0xe1, 'cx=': 0xf1}


class Skip(Exception):
    pass


def insn(code, dst=0, src=0, off=0, imm=0):
    return [code, dst, src, off, imm]


def num(s):
    s = s.strip()
    return int(s, 0)


def parse_line(line, labels_ref):
    """One statement -> list of (insn, label-fixup) entries."""
    s = line.split(';')[0].strip()
    if not s:
        return []
    m = re.fullmatch(r'exit', s)
    if m:
        return [(insn(0x95), None)]
    m = re.fullmatch(r'goto\s+<(\w+)>', s)
    if m:
        return [(insn(0x05), m.group(1))]
    m = re.fullmatch(r'call\s+<(\w+)>', s)
    if m:
        return [(insn(0x85, 0, 1, 0, 0), ('call', m.group(1)))]
    m = re.fullmatch(r'call\s+(-?\d+)', s)
    if m:
        return [(insn(0x85, 0, 0, 0, int(m.group(1))), None)]
    m = re.fullmatch(r'callx\s+r(\d+)', s)
    if m:
        return [(insn(0x8d, int(m.group(1))), None)]
    m = re.fullmatch(r'(assume|if)\s+' + REG + r'\s+(s?[<>]=?|==|!=|&)\s+(\S+?)(?:\s+goto\s+<(\w+)>)?', s)
    if m:
        kind, w, d, op, rhs, label = m.groups()
        d = int(d)
        cls = 0x06 if w == 'w' else 0x05
        if kind == 'assume':
            if op == '&':
                raise Skip('assume with &')
            op = NEG[op]
            label = '__assume_false'
        elif not label:
            raise Skip('if without goto: ' + s)
        rm = re.fullmatch(REG, rhs)
        if rm:
            return [(insn(cls | JMP[op] | 0x08, d, int(rm.group(2))), label)]
        return [(insn(cls | JMP[op], d, 0, 0, num(rhs)), label)]
    # loads: rX = *(uN *)(rY + off)
    m = re.fullmatch(REG + r'\s*=\s*\*\(\s*([us]\d+)\s*\*\)\s*\(\s*r(\d+)\s*([+-])\s*(\d+)\s*\)', s)
    if m:
        w, d, sz, b, sign, off = m.groups()
        code = 0x61 | SIZE[sz]
        if sz.startswith('s'):
            code = 0x81 | SIZE[sz]  # BPF_MEMSX
        o = int(off) * (-1 if sign == '-' else 1)
        return [(insn(code, int(d), int(b), o), None)]
    # atomics: lock *(uN *)(rX + off) OP= rY [fetch]
    m = re.fullmatch(r'lock\s+\*\(\s*(u\d+)\s*\*\)\s*\(\s*r(\d+)\s*([+-])\s*(\d+)\s*\)\s*(\S+)\s+r(\d+)(\s+fetch)?', s)
    if m:
        sz, b, sign, off, op, src, fetch = m.groups()
        if op not in ATOMIC or sz not in ('u32', 'u64'):
            raise Skip('atomic ' + op)
        imm = ATOMIC[op] | (1 if fetch else 0)
        o = int(off) * (-1 if sign == '-' else 1)
        return [(insn(0xc3 | SIZE[sz], int(b), int(src), o, imm), None)]
    # stores: *(uN *)(rX + off) = rY | imm
    m = re.fullmatch(r'\*\(\s*(u\d+)\s*\*\)\s*\(\s*r(\d+)\s*([+-])\s*(\d+)\s*\)\s*=\s*(\S+)', s)
    if m:
        sz, b, sign, off, v = m.groups()
        o = int(off) * (-1 if sign == '-' else 1)
        rm = re.fullmatch(r'r(\d+)', v)
        if rm:
            return [(insn(0x63 | SIZE[sz], int(b), int(rm.group(1)), o), None)]
        return [(insn(0x62 | SIZE[sz], int(b), 0, o, num(v)), None)]
    # byte swaps: rX = beN rX / leN / swapN
    m = re.fullmatch(REG + r'\s*=\s*(be|le|swap)(\d+)\s+[rw](\d+)', s)
    if m:
        w, d, kind, bits, d2 = m.groups()
        if kind == 'swap':
            return [(insn(0xd7, int(d), 0, 0, int(bits)), None)]
        return [(insn(0xd4 | (0x08 if kind == 'be' else 0), int(d), 0, 0, int(bits)), None)]
    # lddw: rX = N ll
    m = re.fullmatch(r'r(\d+)\s*=\s*(-?(?:0x[0-9a-fA-F]+|\d+))\s*ll', s)
    if m:
        v = int(m.group(2), 0) & 0xffffffffffffffff
        lo, hi = v & 0xffffffff, v >> 32
        return [(insn(0x18, int(m.group(1)), 0, 0, lo), None), (insn(0, 0, 0, 0, hi), None)]
    # negation: rX = -rX
    m = re.fullmatch(REG + r'\s*=\s*-\s*[rw](\d+)', s)
    if m:
        w, d, d2 = m.groups()
        return [(insn((0x07 if w == 'r' else 0x04) | 0x80, int(d)), None)]
    # movsx: rX sN= rY
    m = re.fullmatch(REG + r'\s+s(8|16|32)=\s*[rw](\d+)', s)
    if m:
        w, d, bits, src = m.groups()
        return [(insn(0xbf if w == 'r' else 0xbc, int(d), int(src), int(bits)), None)]
    # mov / alu
    m = re.fullmatch(REG + r'\s*(s>>|s/|s%|<<|>>|[-+*/|&^%])?=\s*(\S+)', s)
    if m:
        w, d, op, v = m.groups()
        cls = 0x07 if w == 'r' else 0x04
        d = int(d)
        if op is None:
            aop = 0xb0
        else:
            aop = ALU[op]
        off = 1 if op in ('s/', 's%') else 0
        rm = re.fullmatch(REG, v)
        if rm:
            return [(insn(cls | aop | 0x08, d, int(rm.group(2)), off), None)]
        return [(insn(cls | aop, d, 0, off, num(v)), None)]
    raise Skip('statement: ' + s)


def assemble(code):
    """code: {label: text}; <start> first.  -> list of 8-byte instructions."""
    order = ['start'] + [k.strip('<>') for k in code if k.strip('<>') != 'start']
    blocks = {k.strip('<>'): v for k, v in code.items()}
    out, fix, labels = [], [], {}
    for name in order:
        labels[name] = len(out)
        text = blocks[name]
        if not isinstance(text, str):
            raise Skip('block ' + name)
        for line in text.splitlines():
            for ins, fx in parse_line(line, labels):
                if fx is not None:
                    fix.append((len(out), fx))
                out.append(ins)
        # a block that falls through to the next: nothing to add (blocks are laid out in order)
    # the end of the last block: a path end, then the assume-false target
    last_falls = not out or out[-1][0] not in (0x95, 0x05)
    if last_falls:
        out.append(insn(0xb7, 0, 0, 0, 0))
        out.append(insn(0x95))
    labels['__assume_false'] = len(out)
    if any(f[1] == '__assume_false' for f in fix):
        out.append(insn(0xb7, 0, 0, 0, 0))
        out.append(insn(0x95))
    for at, fx in fix:
        target = fx[1] if isinstance(fx, tuple) else fx
        if target == 'exit' and target not in labels:
            raise Skip('label exit')
        if target not in labels:
            raise Skip('label ' + target)
        rel = labels[target] - at - 1
        if isinstance(fx, tuple):
            out[at][4] = rel
        else:
            out[at][3] = rel
    return out


def encode(i):
    code, dst, src, off, imm = i
    if not -32768 <= off <= 32767:
        raise Skip('offset')
    if imm > 0x7fffffff:
        imm -= 1 << 32
    if not -(1 << 31) <= imm < (1 << 31):
        raise Skip('immediate')
    return struct.pack('<BBhi', code, (src << 4) | dst, off, imm).hex()


def interval(v):
    v = v.strip()
    m = re.fullmatch(r'\[\s*(-?\d+)\s*,\s*(-?\d+)\s*\]', v)
    if m:
        return int(m.group(1)), int(m.group(2))
    if re.fullmatch(r'-?\d+', v):
        return int(v), int(v)
    return None


def pre_lines(pre):
    regs, stack, out = {}, [], []
    packet_size = None
    for p in pre:
        p = p.strip()
        m = re.fullmatch(r'r(\d+)\.(\w+)\s*=\s*(.+)', p)
        if m:
            r, k, v = int(m.group(1)), m.group(2), m.group(3).strip()
            regs.setdefault(r, {})[k] = v
            continue
        m = re.fullmatch(r's\[(\d+)\.\.\.(\d+)\]\.(\w+)\s*=\s*(.+)', p)
        if m:
            stack.append((int(m.group(1)), int(m.group(2)), m.group(3), m.group(4).strip()))
            continue
        m = re.fullmatch(r'packet_size\s*=\s*(.+)', p)
        if m:
            iv = interval(m.group(1))
            packet_size = iv[0] if iv else None
            continue
        if re.fullmatch(r'meta_offset\s*=.*', p):
            continue
        m = re.fullmatch(r'r(\d+)\.type\s+in\s+\{.*\}', p)
        if m:
            raise Skip('a type set')
        raise Skip('pre ' + p)
    # stack offsets count from the stack's bottom; r10 is the frame's top
    base = 512
    if 10 in regs and 'stack_offset' in regs[10]:
        iv = interval(regs[10]['stack_offset'])
        if iv and iv[0] == iv[1]:
            base = iv[0]
    for r in sorted(regs):
        d = regs[r]
        t = d.get('type')
        if t == 'number':
            words = ['pre', 'r%d' % r, 'number']
            sv = interval(d['svalue']) if 'svalue' in d else None
            uv = interval(d['uvalue']) if 'uvalue' in d else None
            if 'uvalue' in d and d['uvalue'] == 'r%d.svalue' % r and sv and sv[0] >= 0:
                uv = sv
            if sv:
                words += ['smin', str(sv[0]), 'smax', str(sv[1])]
            if uv:
                words += ['umin', str(uv[0] & 0xffffffffffffffff), 'umax', str(uv[1] & 0xffffffffffffffff)]
            out.append(' '.join(words))
        elif t == 'ctx':
            off = interval(d.get('ctx_offset', '0'))
            if not off or off[0] != off[1]:
                raise Skip('ctx offset range')
            out.append('pre r%d ctx %d' % (r, off[0]))
        elif t == 'stack':
            off = interval(d.get('stack_offset', '512'))
            if not off or off[0] != off[1]:
                raise Skip('stack offset range')
            line = 'pre r%d stack %d' % (r, off[0] - base)
            if 'stack_numeric_size' in d:
                n = interval(d['stack_numeric_size'])
                if n:
                    line += ' numeric %d' % n[0]
            out.append(line)
        elif t == 'packet':
            po = d.get('packet_offset', '0')
            if po == 'packet_size':
                out.append('pre r%d packet_end' % r)
                continue
            off = interval(po)
            if not off or off[0] != off[1]:
                raise Skip('packet offset range')
            out.append('pre r%d packet %d' % (r, off[0]))
        elif t == 'shared':
            off = interval(d.get('shared_offset', '0'))
            size = interval(d.get('shared_region_size', '0'))
            if not off or not size or off[0] != off[1] or size[0] != size[1]:
                raise Skip('shared offset range')
            out.append('pre r%d shared %d %d' % (r, off[0], size[0]))
        elif t == 'map_fd':
            fd = interval(d.get('map_fd', '1'))
            out.append('pre r%d map_fd %d' % (r, fd[0] if fd else 1))
        else:
            raise Skip('register type %s' % t)
    for lo, hi, k, v in stack:
        if k == 'type':
            if v != 'number':
                raise Skip('stack type ' + v)
            out.append('pre stack %d %d number' % (lo - base, hi + 1 - base))
        elif k == 'svalue':
            iv = interval(v)
            if iv and iv[0] == iv[1] and hi - lo + 1 in (1, 2, 4, 8):
                out.append('pre stackval %d %d %d' % (lo - base, hi + 1 - base, iv[0]))
    if packet_size is not None:
        out.append('pre packet_size %d' % packet_size)
    return out


def main():
    out = open(sys.argv[1], 'w')
    for path in sys.argv[2:]:
        name = path.rsplit('/', 1)[-1].rsplit('.', 1)[0]
        for d in yaml.safe_load_all(open(path)):
            if not d:
                continue
            desc = '%s: %s' % (name, d.get('test-case', '?'))
            out.write('test %s\n' % desc.replace('\\', '\\\\').replace('\n', '\\n'))
            out.write('type 0\n')  # a raw program: r1 points to 64 bytes of plain memory
            # PREVAIL also reports what its domain learnt ("Code becomes
            # unreachable" after an assume, failed observations): not safety
            msgs = [str(x) for x in d.get('messages') or []]
            safety = [x for x in msgs if 'Code becomes unreachable' not in x and 'observation' not in x]
            reject = bool(safety)
            out.write('result %s\n' % ('reject' if reject else 'accept'))
            if safety:
                out.write('errstr %s\n' % safety[0].replace('\\', '\\\\').replace('\n', '\\n'))
                if all('division by zero' in x for x in safety) and \
                        '!allow_division_by_zero' in (d.get('options') or []):
                    out.write('why div0\n')
            for o in d.get('options') or []:
                out.write('option %s\n' % o)
            try:
                if 'expected-exception' in d:
                    raise Skip('an expected exception of PREVAIL itself')
                if 'big_endian' in (d.get('options') or []):
                    raise Skip('big-endian semantics')
                lines = pre_lines(d.get('pre') or [])
                code = assemble(d['code'])
                for l in lines:
                    out.write(l + '\n')
                for i in code:
                    out.write('insn %s\n' % encode(i))
            except Skip as e:
                out.write('skip %s\n' % str(e).replace('\n', ' '))
            except (KeyError, ValueError, TypeError) as e:
                out.write('skip cannot convert: %s\n' % str(e).replace('\n', ' '))
            out.write('end\n')
    out.close()


if __name__ == '__main__':
    main()
