/*
 * log.c — the verifier's log, kernel style: at level 2 each instruction
 * with the state before it; at every level, the reason of a refusal with
 * the instruction index and, where BTF line info exists, the source line.
 */
#include "vf.h"

static void log_append(struct vf_env *e, const char *s, size_t len)
{
	if (e->loglen + len + 1 > e->logcap) {
		size_t cap = e->logcap ? e->logcap : 4096;
		while (cap < e->loglen + len + 1)
			cap *= 2;
		if (cap > (256u << 20)) /* a runaway level-2 log stops growing */
			return;
		char *p = realloc(e->log, cap);
		if (!p)
			return;
		e->log = p;
		e->logcap = cap;
	}
	memcpy(e->log + e->loglen, s, len);
	e->loglen += len;
	e->log[e->loglen] = '\0';
}

static void vlog(struct vf_env *e, const char *fmt, va_list ap)
{
	char buf[1024];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		return;
	log_append(e, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

void vf_log(struct vf_env *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(e, fmt, ap);
	va_end(ap);
}

static int fail(struct vf_env *e, int status, const char *kind, const char *fmt, va_list ap)
{
	if (e->status)
		return e->status; /* the first reason stands */
	char msg[700];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	const char *line = e->in->line && e->insn < e->n ? e->in->line(e->in->line_arg, e->insn) : NULL;
	e->status = status;
	e->err_insn = e->insn;
	if (e->level == 1 || (e->level == 0 && status != BPFRT_EREJECT))
		vf_log_insn(e, e->insn);
	vf_log(e, "%sinsn %u: %s\n", kind, e->insn, msg);
	if (line)
		vf_log(e, "  ; %s\n", line);
	bpfrt_err_set(e->err, status, "%sinsn %u: %s%s%s", kind, e->insn, msg, line ? " ; " : "", line ? line : "");
	return status;
}

int vf_reject(struct vf_env *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = fail(e, BPFRT_EREJECT, "", fmt, ap);
	va_end(ap);
	return rc;
}

int vf_bug(struct vf_env *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = fail(e, BPFRT_EINTERNAL, "verifier bug: ", fmt, ap);
	va_end(ap);
	return rc;
}

int vf_nomem(struct vf_env *e)
{
	if (e->status)
		return e->status;
	e->status = BPFRT_ENOMEM;
	e->err_insn = e->insn;
	bpfrt_err_set(e->err, BPFRT_ENOMEM, "out of memory while verifying (insn %u)", e->insn);
	vf_log(e, "out of memory while verifying (insn %u)\n", e->insn);
	return BPFRT_ENOMEM;
}

const char *vtype_name(uint8_t type, uint8_t flags)
{
	static const char *const names[T__COUNT] = {
		[T_NOT_INIT] = "?", [T_SCALAR] = "scalar", [T_CTX] = "ctx", [T_STACK] = "fp",
		[T_MAP_PTR] = "map_ptr", [T_MAP_VALUE] = "map_value", [T_MAP_KEY] = "map_key",
		[T_PACKET_META] = "pkt_meta", [T_PACKET] = "pkt", [T_PACKET_END] = "pkt_end",
		[T_MEM] = "mem", [T_FUNC] = "func", [T_SOCKET] = "sock", [T_SOCK_COMMON] = "sock_common",
		[T_TCP_SOCK] = "tcp_sock", [T_BTF_ID] = "ptr_",
	};
	static const char *const null_names[T__COUNT] = {
		[T_MAP_VALUE] = "map_value_or_null", [T_MEM] = "mem_or_null", [T_SOCKET] = "sock_or_null",
		[T_SOCK_COMMON] = "sock_common_or_null", [T_TCP_SOCK] = "tcp_sock_or_null",
		[T_BTF_ID] = "ptr_or_null_", [T_MAP_PTR] = "map_ptr_or_null",
	};
	if (type >= T__COUNT)
		return "invalid";
	if ((flags & VF_NULL) && null_names[type])
		return null_names[type];
	return names[type];
}

int vreg_fmt(char *buf, size_t len, const struct vreg *r)
{
	if (r->type == T_NOT_INIT)
		return snprintf(buf, len, "?");
	if (r->type == T_SCALAR && tnum_is_const(r->var))
		return snprintf(buf, len, "%" PRId64, (int64_t)r->var.value);
	int n = snprintf(buf, len, "%s(", vtype_name(r->type, r->flags));
	size_t used = n > 0 ? (size_t)n : 0;
#define ADD(...) do { if (used < len) { int k_ = snprintf(buf + used, len - used, __VA_ARGS__); \
	if (k_ > 0) used += (size_t)k_; } } while (0)
	const char *sep = "";
	if (r->type != T_SCALAR) {
		if (r->id) { ADD("%sid=%u", sep, r->id); sep = ","; }
		if (r->ref) { ADD("%sref=%u", sep, r->ref); sep = ","; }
		if (r->off) { ADD("%soff=%d", sep, r->off); sep = ","; }
		if (vreg_is_pkt(r)) { ADD("%sr=%d", sep, r->range); sep = ","; }
		if (r->type == T_MEM) { ADD("%ssz=%u", sep, r->aux); sep = ","; }
		if (r->type == T_MAP_VALUE || r->type == T_MAP_PTR || r->type == T_MAP_KEY) {
			ADD("%smap=%u", sep, r->aux);
			sep = ",";
		}
		if (r->type == T_STACK && r->aux) { ADD("%sframe=%u", sep, r->aux); sep = ","; }
		if (tnum_is_const(r->var) && !r->var.value)
			goto done;
	} else if (r->id) {
		ADD("id=%u", r->id);
		sep = ",";
	}
	if (r->smin != INT64_MIN || r->smax != INT64_MAX) { ADD("%ssmin=%" PRId64 ",smax=%" PRId64, sep, r->smin, r->smax); sep = ","; }
	if (r->umin || r->umax != UINT64_MAX) { ADD("%sumin=%" PRIu64 ",umax=%" PRIu64, sep, r->umin, r->umax); sep = ","; }
	if (r->var.mask != ~0ull) {
		char t[64];
		tnum_fmt(t, sizeof(t), r->var);
		ADD("%svar_off=%s", sep, t);
	}
done:
	ADD(")");
#undef ADD
	return (int)used;
}

void vf_log_insn(struct vf_env *e, uint32_t pc)
{
	char buf[256];
	if (pc >= e->n)
		return;
	if (bpfrt_disasm_one(e->in->helpers, e->insns, e->n, pc, buf, sizeof(buf)) < 0)
		snprintf(buf, sizeof(buf), "(code %#04x)", e->insns[pc].code);
	/* the source line, where it changes (the kernel's "; ..." lines) */
	const char *line = e->level >= 2 && e->in->line ? e->in->line(e->in->line_arg, pc) : NULL;
	if (line && (!e->last_line || strcmp(line, e->last_line)))
		vf_log(e, "; %s\n", line);
	e->last_line = line;
	vf_log(e, "%u: %s\n", pc, buf);
}

void vf_log_state(struct vf_env *e, const struct vstate *st)
{
	for (uint32_t fi = 0; fi <= st->curframe; fi++) {
		const struct vframe *f = st->frame[fi];
		if (st->curframe)
			vf_log(e, "  frame%u:", fi);
		for (int r = 0; r < 11; r++) {
			if (f->regs[r].type == T_NOT_INIT)
				continue;
			char buf[256];
			vreg_fmt(buf, sizeof(buf), &f->regs[r]);
			vf_log(e, " R%d=%s", r, buf);
		}
		for (uint32_t k = 0; k < f->nslots; k++) {
			const struct vslot *s = &f->slot[k];
			char kinds[9];
			bool any = false;
			for (unsigned b = 0; b < 8; b++) {
				kinds[7 - b] = "?mzs"[s->type[b]];
				any |= s->type[b] != S_INVALID;
			}
			kinds[8] = '\0';
			if (!any)
				continue;
			if (s->type[s->spill_at] == S_SPILL) {
				char buf[256];
				vreg_fmt(buf, sizeof(buf), &s->spill);
				vf_log(e, " fp-%u=%s%s%s", (k + 1) * 8, s->spill_size == 8 ? "" : kinds,
				       s->spill_size == 8 ? "" : ":", buf);
			} else {
				vf_log(e, " fp-%u=%s", (k + 1) * 8, kinds);
			}
		}
		vf_log(e, "\n");
	}
}
