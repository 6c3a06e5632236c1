/*
 * platform.c — what the verifier checks programs against: program types
 * (the context's fields and who may read or write them, packet access,
 * the return range) and helper prototypes.
 *
 * Two platforms share these tables:
 *   linux  every program type and helper described here, so that objects
 *          written for the kernel can be verified whatever bpfrt can run;
 *   bpfrt  only the helpers registered in the vm (those with a Linux
 *          prototype use it; others an embedder registered get a generic
 *          one: five opaque arguments, an integer result or, when
 *          registered with a result size, memory of that size or NULL).
 *
 * The field rules follow the kernel's is_valid_access callbacks
 * (net/core/filter.c, kernel/trace/bpf_trace.c) in simplified form: u32
 * fields read whole or narrower, pointer fields read whole, a few fields
 * writable per program type.
 */
#include "vf.h"

#include <linux/bpf.h>

#define RD4 (1 | 2 | 4)
#define RD8 (1 | 2 | 4 | 8)
#define FIELD(T, f, kind, rd, wr) { offsetof(T, f), sizeof(((T *)0)->f), kind, rd, wr }
#define FIELDS(T, f, n, kind, rd, wr) { offsetof(T, f), (uint16_t)(sizeof(((T *)0)->f[0]) * (n)), kind, rd, wr }

/* ------------------------------------------------------------- contexts */

#define SKB struct __sk_buff
#define SKB_FIELDS(MARK_W, PKT, META, TC_W, CLASSID)                                        \
	FIELD(SKB, mark, CF_SCALAR, RD4, MARK_W),                                           \
	FIELD(SKB, queue_mapping, CF_SCALAR, RD4, TC_W),                                    \
	FIELD(SKB, priority, CF_SCALAR, RD4, MARK_W),                                       \
	FIELD(SKB, tc_index, CF_SCALAR, RD4, TC_W),                                         \
	FIELDS(SKB, cb, 5, CF_SCALAR, RD8, RD8),                                            \
	FIELD(SKB, tc_classid, CLASSID, RD4, TC_W),                                         \
	FIELD(SKB, data, PKT, 4, 0),                                                        \
	FIELD(SKB, data_end, PKT == CF_CTX_NONE ? CF_CTX_NONE : CF_PKT_END, 4, 0),          \
	FIELD(SKB, data_meta, META, 4, 0),                                                  \
	FIELD(SKB, flow_keys, CF_CTX_NONE, 0, 0),                                           \
	FIELD(SKB, tstamp, CF_SCALAR, 8, TC_W ? 8 : 0),                                     \
	FIELD(SKB, sk, CF_SOCK_NULL, 8, 0),                                                 \
	FIELD(SKB, hwtstamp, CF_SCALAR, 8, 0),                                              \
	{ 0, 0, 0, 0, 0 }

static const struct vctx_field skb_filter[] = { SKB_FIELDS(0, CF_CTX_NONE, CF_CTX_NONE, 0, CF_CTX_NONE) };
static const struct vctx_field skb_tc[] = { SKB_FIELDS(4, CF_PKT, CF_PKT_META, 4, CF_SCALAR) };
static const struct vctx_field skb_cgroup[] = { SKB_FIELDS(4, CF_PKT, CF_CTX_NONE, 0, CF_CTX_NONE) };
static const struct vctx_field skb_other[] = { SKB_FIELDS(0, CF_PKT, CF_CTX_NONE, 0, CF_SCALAR) };

static const struct vctx_field xdp_fields[] = {
	FIELD(struct xdp_md, data, CF_PKT, 4, 0),
	FIELD(struct xdp_md, data_end, CF_PKT_END, 4, 0),
	FIELD(struct xdp_md, data_meta, CF_PKT_META, 4, 0),
	{ 0, 0, 0, 0, 0 }
};

static const struct vctx_field sock_fields[] = {
	FIELD(struct bpf_sock, bound_dev_if, CF_SCALAR, RD4, 4),
	FIELD(struct bpf_sock, mark, CF_SCALAR, RD4, 4),
	FIELD(struct bpf_sock, priority, CF_SCALAR, RD4, 4),
	{ 0, 0, 0, 0, 0 }
};

static const struct vctx_field sock_addr_fields[] = {
	FIELD(struct bpf_sock_addr, user_ip4, CF_SCALAR, RD4, 4),
	FIELDS(struct bpf_sock_addr, user_ip6, 4, CF_SCALAR, RD8, 4 | 8),
	FIELD(struct bpf_sock_addr, user_port, CF_SCALAR, RD4, 4),
	FIELD(struct bpf_sock_addr, msg_src_ip4, CF_SCALAR, RD4, 4),
	FIELDS(struct bpf_sock_addr, msg_src_ip6, 4, CF_SCALAR, RD8, 4 | 8),
	FIELD(struct bpf_sock_addr, sk, CF_SOCK_NULL, 8, 0),
	{ 0, 0, 0, 0, 0 }
};

static const struct vctx_field sock_ops_fields[] = {
	FIELDS(struct bpf_sock_ops, replylong, 4, CF_SCALAR, RD4, 4),
	FIELD(struct bpf_sock_ops, sk_txhash, CF_SCALAR, RD4, 4),
	FIELD(struct bpf_sock_ops, bytes_received, CF_SCALAR, 8, 0),
	FIELD(struct bpf_sock_ops, bytes_acked, CF_SCALAR, 8, 0),
	FIELD(struct bpf_sock_ops, sk, CF_SOCK_NULL, 8, 0),
	FIELD(struct bpf_sock_ops, skb_data, CF_PKT, 8, 0),
	FIELD(struct bpf_sock_ops, skb_data_end, CF_PKT_END, 8, 0),
	{ 0, 0, 0, 0, 0 }
};

static const struct vctx_field msg_fields[] = {
	FIELD(struct sk_msg_md, data, CF_PKT, 8, 0),
	FIELD(struct sk_msg_md, data_end, CF_PKT_END, 8, 0),
	FIELD(struct sk_msg_md, sk, CF_SOCK_NULL, 8, 0),
	{ 0, 0, 0, 0, 0 }
};

static const struct vctx_field reuseport_fields[] = {
	FIELD(struct sk_reuseport_md, data, CF_PKT, 8, 0),
	FIELD(struct sk_reuseport_md, data_end, CF_PKT_END, 8, 0),
	FIELD(struct sk_reuseport_md, sk, CF_SOCK_NULL, 8, 0),
	FIELD(struct sk_reuseport_md, migrating_sk, CF_SOCK_NULL, 8, 0),
	{ 0, 0, 0, 0, 0 }
};

static const struct vctx_field sk_lookup_fields[] = {
	FIELD(struct bpf_sk_lookup, sk, CF_SOCK_NULL, 8, 0),
	FIELD(struct bpf_sk_lookup, cookie, CF_SCALAR, 8, 0),
	{ 0, 0, 0, 0, 0 }
};

static const struct vctx_field sysctl_fields[] = {
	FIELD(struct bpf_sysctl, file_pos, CF_SCALAR, RD4, 4),
	{ 0, 0, 0, 0, 0 }
};

static const struct vctx_field sockopt_fields[] = {
	FIELD(struct bpf_sockopt, sk, CF_SOCK_NULL, 8, 0),
	FIELD(struct bpf_sockopt, optval, CF_PKT, 8, 0),
	FIELD(struct bpf_sockopt, optval_end, CF_PKT_END, 8, 0),
	FIELD(struct bpf_sockopt, level, CF_SCALAR, RD4, 4),
	FIELD(struct bpf_sockopt, optname, CF_SCALAR, RD4, 4),
	FIELD(struct bpf_sockopt, optlen, CF_SCALAR, RD4, 4),
	FIELD(struct bpf_sockopt, retval, CF_SCALAR, RD4, 4),
	{ 0, 0, 0, 0, 0 }
};

#define PT_REGS_SIZE 168 /* x86-64 struct pt_regs */

static const struct vprogtype progtypes[] = {
	{ BPF_PROG_TYPE_SOCKET_FILTER, "socket_filter", sizeof(SKB), skb_filter, RD4, 0, 0, false, true, false, 0, 0, false },
	{ BPF_PROG_TYPE_SCHED_CLS, "sched_cls", sizeof(SKB), skb_tc, RD4, 0, 0, true, true, false, 0, 0, false },
	{ BPF_PROG_TYPE_SCHED_ACT, "sched_act", sizeof(SKB), skb_tc, RD4, 0, 0, true, true, false, 0, 0, false },
	{ BPF_PROG_TYPE_CGROUP_SKB, "cgroup_skb", sizeof(SKB), skb_cgroup, RD4, 0, 0, false, false, true, 0, 3, false },
	{ BPF_PROG_TYPE_LWT_IN, "lwt_in", sizeof(SKB), skb_other, RD4, 0, 0, false, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_LWT_OUT, "lwt_out", sizeof(SKB), skb_other, RD4, 0, 0, false, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_LWT_XMIT, "lwt_xmit", sizeof(SKB), skb_other, RD4, 0, 0, true, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_LWT_SEG6LOCAL, "lwt_seg6local", sizeof(SKB), skb_other, RD4, 0, 0, false, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_SK_SKB, "sk_skb", sizeof(SKB), skb_other, RD4, 0, 0, true, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_FLOW_DISSECTOR, "flow_dissector", sizeof(SKB), skb_other, RD4, 0, 0, false, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_XDP, "xdp", sizeof(struct xdp_md), xdp_fields, 4, 0, 0, true, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_KPROBE, "kprobe", PT_REGS_SIZE, NULL, RD8, 0, 0, false, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_TRACEPOINT, "tracepoint", 8192, NULL, RD8, 0, 8, false, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_RAW_TRACEPOINT, "raw_tracepoint", 8 * 12, NULL, RD8, 0, 0, false, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, "raw_tracepoint_writable", 8 * 12, NULL, RD8, 0, 0, false, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_PERF_EVENT, "perf_event", PT_REGS_SIZE + 16 /* struct bpf_perf_event_data */, NULL, RD8, 0, 0, false, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_TRACING, "tracing", 8 * 13, NULL, RD8, 0, 0, false, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_LSM, "lsm", 8 * 13, NULL, RD8, 0, 0, false, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_EXT, "ext", 8 * 13, NULL, RD8, 0, 0, false, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_STRUCT_OPS, "struct_ops", 8 * 13, NULL, RD8, 0, 0, false, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_CGROUP_SOCK, "cgroup_sock", sizeof(struct bpf_sock), sock_fields, RD4, 0, 0, false, false, true, 0, 1, false },
	{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "cgroup_sock_addr", sizeof(struct bpf_sock_addr), sock_addr_fields, RD4, 0, 0, false, false, true, 0, 1, false },
	{ BPF_PROG_TYPE_SOCK_OPS, "sock_ops", sizeof(struct bpf_sock_ops), sock_ops_fields, RD4, 0, 0, false, false, true, 0, 1, false },
	{ BPF_PROG_TYPE_SK_MSG, "sk_msg", sizeof(struct sk_msg_md), msg_fields, RD4, 0, 0, true, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_CGROUP_DEVICE, "cgroup_device", sizeof(struct bpf_cgroup_dev_ctx), NULL, RD4, 0, 0, false, false, true, 0, 1, false },
	{ BPF_PROG_TYPE_CGROUP_SYSCTL, "cgroup_sysctl", sizeof(struct bpf_sysctl), sysctl_fields, RD4, 0, 0, false, false, true, 0, 1, false },
	{ BPF_PROG_TYPE_CGROUP_SOCKOPT, "cgroup_sockopt", sizeof(struct bpf_sockopt), sockopt_fields, RD4, 0, 0, false, false, true, 0, 1, false },
	{ BPF_PROG_TYPE_SK_REUSEPORT, "sk_reuseport", sizeof(struct sk_reuseport_md), reuseport_fields, RD4, 0, 0, false, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_SK_LOOKUP, "sk_lookup", sizeof(struct bpf_sk_lookup), sk_lookup_fields, RD4, 0, 0, false, false, true, 0, 1, false },
	{ BPF_PROG_TYPE_LIRC_MODE2, "lirc_mode2", 4, NULL, 4, 0, 0, false, false, false, 0, 0, false },
	{ BPF_PROG_TYPE_SYSCALL, "syscall", 65535, NULL, RD8, RD8, 0, false, false, false, 0, 0, true },
};

const struct vprogtype *vf_linux_progtype(uint32_t type)
{
	for (size_t i = 0; i < ARRAY_SIZE(progtypes); i++)
		if (progtypes[i].type == type)
			return &progtypes[i];
	return NULL;
}

/* -------------------------------------------------------------- helpers */

#define M(t) (1ull << BPF_MAP_TYPE_##t)
/* the maps whose elements programs look up, update and delete */
#define M_ELEM (M(HASH) | M(ARRAY) | M(PERCPU_HASH) | M(PERCPU_ARRAY) | M(LRU_HASH) | M(LRU_PERCPU_HASH) | \
		M(LPM_TRIE) | M(ARRAY_OF_MAPS) | M(HASH_OF_MAPS) | M(SOCKMAP) | M(SOCKHASH) | M(XSKMAP) |    \
		M(DEVMAP) | M(DEVMAP_HASH) | M(CPUMAP) | M(SK_STORAGE) | M(CGROUP_STORAGE) |                \
		M(PERCPU_CGROUP_STORAGE) | M(INODE_STORAGE) | M(TASK_STORAGE) |           \
		M(BLOOM_FILTER) | M(REUSEPORT_SOCKARRAY))
#define M_QUEUE (M(QUEUE) | M(STACK) | M(BLOOM_FILTER))
#define M_REDIRECT (M(DEVMAP) | M(DEVMAP_HASH) | M(CPUMAP) | M(XSKMAP))

#define H(ID, NAME, RET, FL, MT, ...) [ID] = { #NAME, RET, { __VA_ARGS__ }, FL, 0, MT }
#define PKT HF_PKT_CHANGE

static const struct vhelper linux_helpers[] = {
	H(1, map_lookup_elem, R_MAP_VALUE_NULL, 0, M_ELEM, A_MAP, A_KEY),
	H(2, map_update_elem, R_INT, 0, M_ELEM, A_MAP, A_KEY, A_VALUE, A_ANY),
	H(3, map_delete_elem, R_INT, 0, M_ELEM, A_MAP, A_KEY),
	H(4, probe_read, R_INT, 0, 0, A_UNINIT_MEM, A_SIZE0, A_ANY),
	H(5, ktime_get_ns, R_INT, 0, 0),
	H(6, trace_printk, R_INT, 0, 0, A_MEM, A_SIZE),
	H(7, get_prandom_u32, R_INT, 0, 0),
	H(8, get_smp_processor_id, R_INT, 0, 0),
	H(9, skb_store_bytes, R_INT, PKT, 0, A_CTX, A_ANY, A_MEM, A_SIZE, A_ANY),
	H(10, l3_csum_replace, R_INT, PKT, 0, A_CTX, A_ANY, A_ANY, A_ANY, A_ANY),
	H(11, l4_csum_replace, R_INT, PKT, 0, A_CTX, A_ANY, A_ANY, A_ANY, A_ANY),
	H(12, tail_call, R_VOID, HF_TAIL_CALL, M(PROG_ARRAY), A_CTX, A_MAP, A_ANY),
	H(13, clone_redirect, R_INT, PKT, 0, A_CTX, A_ANY, A_ANY),
	H(14, get_current_pid_tgid, R_INT, 0, 0),
	H(15, get_current_uid_gid, R_INT, 0, 0),
	H(16, get_current_comm, R_INT, 0, 0, A_UNINIT_MEM, A_SIZE),
	H(17, get_cgroup_classid, R_INT, 0, 0, A_CTX),
	H(18, skb_vlan_push, R_INT, PKT, 0, A_CTX, A_ANY, A_ANY),
	H(19, skb_vlan_pop, R_INT, PKT, 0, A_CTX),
	H(20, skb_get_tunnel_key, R_INT, 0, 0, A_CTX, A_UNINIT_MEM, A_SIZE, A_ANY),
	H(21, skb_set_tunnel_key, R_INT, 0, 0, A_CTX, A_MEM, A_SIZE, A_ANY),
	H(22, perf_event_read, R_INT, 0, M(PERF_EVENT_ARRAY), A_MAP, A_ANY),
	H(23, redirect, R_INT, 0, 0, A_ANY, A_ANY),
	H(24, get_route_realm, R_INT, 0, 0, A_CTX),
	H(25, perf_event_output, R_INT, 0, M(PERF_EVENT_ARRAY), A_CTX, A_MAP, A_ANY, A_MEM, A_SIZE0),
	H(26, skb_load_bytes, R_INT, 0, 0, A_CTX, A_ANY, A_UNINIT_MEM, A_SIZE),
	H(27, get_stackid, R_INT, 0, M(STACK_TRACE), A_CTX, A_MAP, A_ANY),
	H(28, csum_diff, R_INT, 0, 0, A_MEM_NULL, A_SIZE0, A_MEM_NULL, A_SIZE0, A_ANY),
	H(29, skb_get_tunnel_opt, R_INT, 0, 0, A_CTX, A_UNINIT_MEM, A_SIZE),
	H(30, skb_set_tunnel_opt, R_INT, 0, 0, A_CTX, A_MEM, A_SIZE),
	H(31, skb_change_proto, R_INT, PKT, 0, A_CTX, A_ANY, A_ANY),
	H(32, skb_change_type, R_INT, 0, 0, A_CTX, A_ANY),
	H(33, skb_under_cgroup, R_INT, 0, M(CGROUP_ARRAY), A_CTX, A_MAP, A_ANY),
	H(34, get_hash_recalc, R_INT, 0, 0, A_CTX),
	H(35, get_current_task, R_INT, 0, 0),
	H(36, probe_write_user, R_INT, 0, 0, A_ANY, A_MEM, A_SIZE),
	H(37, current_task_under_cgroup, R_INT, 0, M(CGROUP_ARRAY), A_MAP, A_ANY),
	H(38, skb_change_tail, R_INT, PKT, 0, A_CTX, A_ANY, A_ANY),
	H(39, skb_pull_data, R_INT, PKT, 0, A_CTX, A_ANY),
	H(40, csum_update, R_INT, 0, 0, A_CTX, A_ANY),
	H(41, set_hash_invalid, R_VOID, 0, 0, A_CTX),
	H(42, get_numa_node_id, R_INT, 0, 0),
	H(43, skb_change_head, R_INT, PKT, 0, A_CTX, A_ANY, A_ANY),
	H(44, xdp_adjust_head, R_INT, PKT, 0, A_CTX, A_ANY),
	H(45, probe_read_str, R_INT, 0, 0, A_UNINIT_MEM, A_SIZE0, A_ANY),
	H(46, get_socket_cookie, R_INT, 0, 0, A_CTX),
	H(47, get_socket_uid, R_INT, 0, 0, A_CTX),
	H(48, set_hash, R_INT, 0, 0, A_CTX, A_ANY),
	H(49, setsockopt, R_INT, 0, 0, A_CTX, A_ANY, A_ANY, A_MEM, A_SIZE),
	H(50, skb_adjust_room, R_INT, PKT, 0, A_CTX, A_ANY, A_ANY, A_ANY),
	H(51, redirect_map, R_INT, 0, M_REDIRECT, A_MAP, A_ANY, A_ANY),
	H(52, sk_redirect_map, R_INT, 0, M(SOCKMAP), A_CTX, A_MAP, A_ANY, A_ANY),
	H(53, sock_map_update, R_INT, 0, M(SOCKMAP), A_CTX, A_MAP, A_KEY, A_ANY),
	H(54, xdp_adjust_meta, R_INT, PKT, 0, A_CTX, A_ANY),
	H(55, perf_event_read_value, R_INT, 0, M(PERF_EVENT_ARRAY), A_MAP, A_ANY, A_UNINIT_MEM, A_SIZE),
	H(56, perf_prog_read_value, R_INT, 0, 0, A_CTX, A_UNINIT_MEM, A_SIZE),
	H(57, getsockopt, R_INT, 0, 0, A_CTX, A_ANY, A_ANY, A_UNINIT_MEM, A_SIZE),
	H(58, override_return, R_INT, 0, 0, A_CTX, A_ANY),
	H(59, sock_ops_cb_flags_set, R_INT, 0, 0, A_CTX, A_ANY),
	H(60, msg_redirect_map, R_INT, 0, M(SOCKMAP), A_CTX, A_MAP, A_ANY, A_ANY),
	H(61, msg_apply_bytes, R_INT, 0, 0, A_CTX, A_ANY),
	H(62, msg_cork_bytes, R_INT, 0, 0, A_CTX, A_ANY),
	H(63, msg_pull_data, R_INT, PKT, 0, A_CTX, A_ANY, A_ANY, A_ANY),
	H(64, bind, R_INT, 0, 0, A_CTX, A_MEM, A_SIZE),
	H(65, xdp_adjust_tail, R_INT, PKT, 0, A_CTX, A_ANY),
	H(66, skb_get_xfrm_state, R_INT, 0, 0, A_CTX, A_ANY, A_UNINIT_MEM, A_SIZE, A_ANY),
	H(67, get_stack, R_INT, 0, 0, A_CTX, A_UNINIT_MEM, A_SIZE0, A_ANY),
	H(68, skb_load_bytes_relative, R_INT, 0, 0, A_CTX, A_ANY, A_UNINIT_MEM, A_SIZE, A_ANY),
	H(69, fib_lookup, R_INT, 0, 0, A_CTX, A_MEM, A_SIZE, A_ANY),
	H(70, sock_hash_update, R_INT, 0, M(SOCKHASH), A_CTX, A_MAP, A_KEY, A_ANY),
	H(71, msg_redirect_hash, R_INT, 0, M(SOCKHASH), A_CTX, A_MAP, A_KEY, A_ANY),
	H(72, sk_redirect_hash, R_INT, 0, M(SOCKHASH), A_CTX, A_MAP, A_KEY, A_ANY),
	H(73, lwt_push_encap, R_INT, PKT, 0, A_CTX, A_ANY, A_MEM, A_SIZE),
	H(74, lwt_seg6_store_bytes, R_INT, PKT, 0, A_CTX, A_ANY, A_MEM, A_SIZE),
	H(75, lwt_seg6_adjust_srh, R_INT, PKT, 0, A_CTX, A_ANY, A_ANY),
	H(76, lwt_seg6_action, R_INT, PKT, 0, A_CTX, A_ANY, A_MEM, A_SIZE),
	H(77, rc_repeat, R_INT, 0, 0, A_CTX),
	H(78, rc_keydown, R_INT, 0, 0, A_CTX, A_ANY, A_ANY, A_ANY),
	H(79, skb_cgroup_id, R_INT, 0, 0, A_CTX),
	H(80, get_current_cgroup_id, R_INT, 0, 0),
	H(81, get_local_storage, R_MAP_VALUE, 0, M(CGROUP_STORAGE) | M(PERCPU_CGROUP_STORAGE), A_MAP, A_ANY),
	H(82, sk_select_reuseport, R_INT, 0, M(REUSEPORT_SOCKARRAY) | M(SOCKMAP) | M(SOCKHASH), A_CTX, A_MAP, A_KEY, A_ANY),
	H(83, skb_ancestor_cgroup_id, R_INT, 0, 0, A_CTX, A_ANY),
	H(84, sk_lookup_tcp, R_SOCKET_NULL, HF_ACQUIRE, 0, A_CTX, A_MEM, A_SIZE, A_ANY, A_ANY),
	H(85, sk_lookup_udp, R_SOCKET_NULL, HF_ACQUIRE, 0, A_CTX, A_MEM, A_SIZE, A_ANY, A_ANY),
	H(86, sk_release, R_INT, HF_RELEASE, 0, A_SOCKET),
	H(87, map_push_elem, R_INT, 0, M_QUEUE, A_MAP, A_VALUE, A_ANY),
	H(88, map_pop_elem, R_INT, 0, M(QUEUE) | M(STACK), A_MAP, A_UNINIT_VALUE),
	H(89, map_peek_elem, R_INT, 0, M_QUEUE, A_MAP, A_UNINIT_VALUE),
	H(90, msg_push_data, R_INT, PKT, 0, A_CTX, A_ANY, A_ANY, A_ANY),
	H(91, msg_pop_data, R_INT, PKT, 0, A_CTX, A_ANY, A_ANY, A_ANY),
	H(92, rc_pointer_rel, R_INT, 0, 0, A_CTX, A_ANY, A_ANY),
	H(93, spin_lock, R_VOID, HF_LOCK, 0, A_SPIN_LOCK),
	H(94, spin_unlock, R_VOID, HF_UNLOCK, 0, A_SPIN_LOCK),
	H(95, sk_fullsock, R_SOCKET_NULL, 0, 0, A_SOCK_COMMON),
	H(96, tcp_sock, R_TCP_SOCK_NULL, 0, 0, A_SOCK_COMMON),
	H(97, skb_ecn_set_ce, R_INT, 0, 0, A_CTX),
	H(98, get_listener_sock, R_SOCKET_NULL, 0, 0, A_SOCK_COMMON),
	H(99, skc_lookup_tcp, R_SOCK_COMMON_NULL, HF_ACQUIRE, 0, A_CTX, A_MEM, A_SIZE, A_ANY, A_ANY),
	H(100, tcp_check_syncookie, R_INT, 0, 0, A_SOCK_COMMON, A_MEM, A_SIZE, A_MEM, A_SIZE),
	H(101, sysctl_get_name, R_INT, 0, 0, A_CTX, A_UNINIT_MEM, A_SIZE, A_ANY),
	H(102, sysctl_get_current_value, R_INT, 0, 0, A_CTX, A_UNINIT_MEM, A_SIZE),
	H(103, sysctl_get_new_value, R_INT, 0, 0, A_CTX, A_UNINIT_MEM, A_SIZE),
	H(104, sysctl_set_new_value, R_INT, 0, 0, A_CTX, A_MEM, A_SIZE),
	H(105, strtol, R_INT, 0, 0, A_MEM, A_SIZE, A_ANY, A_LONG),
	H(106, strtoul, R_INT, 0, 0, A_MEM, A_SIZE, A_ANY, A_LONG),
	H(107, sk_storage_get, R_MAP_VALUE_NULL, 0, M(SK_STORAGE), A_MAP, A_BTF, A_ANY, A_ANY),
	H(108, sk_storage_delete, R_INT, 0, M(SK_STORAGE), A_MAP, A_BTF),
	H(109, send_signal, R_INT, 0, 0, A_ANY),
	H(110, tcp_gen_syncookie, R_INT, 0, 0, A_SOCK_COMMON, A_MEM, A_SIZE, A_MEM, A_SIZE),
	H(111, skb_output, R_INT, 0, M(PERF_EVENT_ARRAY), A_BTF, A_MAP, A_ANY, A_MEM, A_SIZE0),
	H(112, probe_read_user, R_INT, 0, 0, A_UNINIT_MEM, A_SIZE0, A_ANY),
	H(113, probe_read_kernel, R_INT, 0, 0, A_UNINIT_MEM, A_SIZE0, A_ANY),
	H(114, probe_read_user_str, R_INT, 0, 0, A_UNINIT_MEM, A_SIZE0, A_ANY),
	H(115, probe_read_kernel_str, R_INT, 0, 0, A_UNINIT_MEM, A_SIZE0, A_ANY),
	H(116, tcp_send_ack, R_INT, 0, 0, A_BTF, A_ANY),
	H(117, send_signal_thread, R_INT, 0, 0, A_ANY),
	H(118, jiffies64, R_INT, 0, 0),
	H(119, read_branch_records, R_INT, 0, 0, A_CTX, A_UNINIT_MEM_NULL, A_SIZE0, A_ANY),
	H(120, get_ns_current_pid_tgid, R_INT, 0, 0, A_ANY, A_ANY, A_UNINIT_MEM, A_SIZE),
	H(121, xdp_output, R_INT, 0, M(PERF_EVENT_ARRAY), A_CTX, A_MAP, A_ANY, A_MEM, A_SIZE0),
	H(122, get_netns_cookie, R_INT, 0, 0, A_CTX_NULL),
	H(123, get_current_ancestor_cgroup_id, R_INT, 0, 0, A_ANY),
	H(124, sk_assign, R_INT, 0, 0, A_CTX, A_SOCK_COMMON, A_ANY),
	H(125, ktime_get_boot_ns, R_INT, 0, 0),
	H(126, seq_printf, R_INT, HF_FMT_DATA, 0, A_BTF, A_MEM, A_SIZE, A_MEM_NULL, A_SIZE0),
	H(127, seq_write, R_INT, 0, 0, A_BTF, A_MEM, A_SIZE0),
	H(128, sk_cgroup_id, R_INT, 0, 0, A_SOCK_COMMON),
	H(129, sk_ancestor_cgroup_id, R_INT, 0, 0, A_SOCK_COMMON, A_ANY),
	H(130, ringbuf_output, R_INT, 0, M(RINGBUF), A_MAP, A_MEM, A_SIZE0, A_ANY),
	H(131, ringbuf_reserve, R_MEM_NULL, HF_ACQUIRE, M(RINGBUF), A_MAP, A_ALLOC_SIZE0, A_ANY),
	H(132, ringbuf_submit, R_VOID, HF_RELEASE, 0, A_ALLOC_MEM, A_ANY),
	H(133, ringbuf_discard, R_VOID, HF_RELEASE, 0, A_ALLOC_MEM, A_ANY),
	H(134, ringbuf_query, R_INT, 0, M(RINGBUF), A_MAP, A_ANY),
	H(135, csum_level, R_INT, 0, 0, A_CTX, A_ANY),
	H(136, skc_to_tcp6_sock, R_BTF_NULL, 0, 0, A_BTF),
	H(137, skc_to_tcp_sock, R_BTF_NULL, 0, 0, A_BTF),
	H(138, skc_to_tcp_timewait_sock, R_BTF_NULL, 0, 0, A_BTF),
	H(139, skc_to_tcp_request_sock, R_BTF_NULL, 0, 0, A_BTF),
	H(140, skc_to_udp6_sock, R_BTF_NULL, 0, 0, A_BTF),
	H(141, get_task_stack, R_INT, 0, 0, A_BTF, A_UNINIT_MEM, A_SIZE0, A_ANY),
	H(142, load_hdr_opt, R_INT, 0, 0, A_CTX, A_UNINIT_MEM, A_SIZE, A_ANY),
	H(143, store_hdr_opt, R_INT, 0, 0, A_CTX, A_MEM, A_SIZE, A_ANY),
	H(144, reserve_hdr_opt, R_INT, 0, 0, A_CTX, A_ANY, A_ANY),
	H(147, d_path, R_INT, 0, 0, A_BTF, A_UNINIT_MEM, A_SIZE0),
	H(148, copy_from_user, R_INT, 0, 0, A_UNINIT_MEM, A_SIZE0, A_ANY),
	H(151, skb_cgroup_classid, R_INT, 0, 0, A_CTX),
	H(152, redirect_neigh, R_INT, 0, 0, A_ANY, A_MEM_NULL, A_SIZE0, A_ANY),
	H(153, per_cpu_ptr, R_BTF_NULL, 0, 0, A_BTF, A_ANY),
	H(154, this_cpu_ptr, R_BTF, 0, 0, A_BTF),
	H(155, redirect_peer, R_INT, 0, 0, A_ANY, A_ANY),
	H(158, get_current_task_btf, R_BTF, 0, 0),
	H(160, ktime_get_coarse_ns, R_INT, 0, 0),
	H(163, check_mtu, R_INT, 0, 0, A_CTX, A_ANY, A_INT, A_ANY, A_ANY),
	H(164, for_each_map_elem, R_INT, HF_CB_LOOP | HF_CB_MAP, 0, A_MAP, A_FUNC, A_CB_CTX, A_ANY),
	H(165, snprintf, R_INT, HF_FMT_DATA, 0, A_UNINIT_MEM_NULL, A_SIZE0, A_CONST_STR, A_MEM_NULL, A_SIZE0),
	H(173, get_func_ip, R_INT, 0, 0, A_CTX),
	H(174, get_attach_cookie, R_INT, 0, 0, A_CTX),
	H(175, task_pt_regs, R_BTF, 0, 0, A_BTF),
	H(176, get_branch_snapshot, R_INT, 0, 0, A_UNINIT_MEM, A_SIZE0, A_ANY),
	H(177, trace_vprintk, R_INT, HF_FMT_DATA, 0, A_MEM, A_SIZE, A_MEM_NULL, A_SIZE0),
	H(181, loop, R_INT, HF_CB_LOOP, 0, A_ANY, A_FUNC, A_CB_CTX, A_ANY),
	H(182, strncmp, R_INT, 0, 0, A_MEM, A_SIZE, A_CONST_STR),
	H(183, get_func_arg, R_INT, 0, 0, A_CTX, A_ANY, A_LONG),
	H(184, get_func_ret, R_INT, 0, 0, A_CTX, A_LONG),
	H(185, get_func_arg_cnt, R_INT, 0, 0, A_CTX),
	H(186, get_retval, R_INT, 0, 0),
	H(187, set_retval, R_INT, 0, 0, A_ANY),
	H(188, xdp_get_buff_len, R_INT, 0, 0, A_CTX),
	H(189, xdp_load_bytes, R_INT, 0, 0, A_CTX, A_ANY, A_UNINIT_MEM, A_SIZE),
	H(190, xdp_store_bytes, R_INT, 0, 0, A_CTX, A_ANY, A_MEM, A_SIZE),
	H(191, copy_from_user_task, R_INT, 0, 0, A_UNINIT_MEM, A_SIZE0, A_ANY, A_BTF, A_ANY),
	H(192, skb_set_tstamp, R_INT, 0, 0, A_CTX, A_ANY, A_ANY),
	H(195, map_lookup_percpu_elem, R_MAP_VALUE_NULL, 0, M(PERCPU_HASH) | M(PERCPU_ARRAY) | M(LRU_PERCPU_HASH), A_MAP, A_KEY, A_ANY),
	H(208, ktime_get_tai_ns, R_INT, 0, 0),
};

const struct vhelper *vf_linux_helper(uint32_t id)
{
	if (id >= ARRAY_SIZE(linux_helpers) || !linux_helpers[id].name)
		return NULL;
	return &linux_helpers[id];
}
