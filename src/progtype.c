/*
 * progtype.c — program types by libbpf's section names, and the names of
 * program and map types.
 */
#include "obj.h"

#include <linux/bpf.h>

static const struct { const char *prefix; uint32_t type; } sections[] = {
	/* longest prefixes first where they share a start */
	{ "socket", BPF_PROG_TYPE_SOCKET_FILTER },
	{ "kprobe/", BPF_PROG_TYPE_KPROBE }, { "kretprobe/", BPF_PROG_TYPE_KPROBE },
	{ "uprobe", BPF_PROG_TYPE_KPROBE }, { "uretprobe", BPF_PROG_TYPE_KPROBE },
	{ "ksyscall/", BPF_PROG_TYPE_KPROBE }, { "kretsyscall/", BPF_PROG_TYPE_KPROBE },
	{ "usdt", BPF_PROG_TYPE_KPROBE },
	{ "tc", BPF_PROG_TYPE_SCHED_CLS }, { "classifier", BPF_PROG_TYPE_SCHED_CLS },
	{ "action", BPF_PROG_TYPE_SCHED_ACT },
	{ "tracepoint/", BPF_PROG_TYPE_TRACEPOINT }, { "tp/", BPF_PROG_TYPE_TRACEPOINT },
	{ "raw_tracepoint", BPF_PROG_TYPE_RAW_TRACEPOINT }, { "raw_tp", BPF_PROG_TYPE_RAW_TRACEPOINT },
	{ "tp_btf/", BPF_PROG_TYPE_TRACING }, { "fentry/", BPF_PROG_TYPE_TRACING },
	{ "fexit/", BPF_PROG_TYPE_TRACING }, { "fmod_ret/", BPF_PROG_TYPE_TRACING },
	{ "iter/", BPF_PROG_TYPE_TRACING }, { "fentry.s/", BPF_PROG_TYPE_TRACING },
	{ "fexit.s/", BPF_PROG_TYPE_TRACING },
	{ "freplace/", BPF_PROG_TYPE_EXT }, { "lsm/", BPF_PROG_TYPE_LSM },
	{ "xdp", BPF_PROG_TYPE_XDP },
	{ "perf_event", BPF_PROG_TYPE_PERF_EVENT },
	{ "cgroup_skb/", BPF_PROG_TYPE_CGROUP_SKB }, { "cgroup/skb", BPF_PROG_TYPE_CGROUP_SKB },
	{ "cgroup/sock", BPF_PROG_TYPE_CGROUP_SOCK }, { "cgroup/dev", BPF_PROG_TYPE_CGROUP_DEVICE },
	{ "cgroup/bind", BPF_PROG_TYPE_CGROUP_SOCK_ADDR }, { "cgroup/connect", BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "cgroup/sendmsg", BPF_PROG_TYPE_CGROUP_SOCK_ADDR }, { "cgroup/recvmsg", BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "cgroup/getpeername", BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "cgroup/getsockname", BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "cgroup/sysctl", BPF_PROG_TYPE_CGROUP_SYSCTL },
	{ "cgroup/getsockopt", BPF_PROG_TYPE_CGROUP_SOCKOPT }, { "cgroup/setsockopt", BPF_PROG_TYPE_CGROUP_SOCKOPT },
	{ "sockops", BPF_PROG_TYPE_SOCK_OPS }, { "sk_skb", BPF_PROG_TYPE_SK_SKB },
	{ "sk_msg", BPF_PROG_TYPE_SK_MSG }, { "lirc_mode2", BPF_PROG_TYPE_LIRC_MODE2 },
	{ "flow_dissector", BPF_PROG_TYPE_FLOW_DISSECTOR },
	{ "lwt_in", BPF_PROG_TYPE_LWT_IN }, { "lwt_out", BPF_PROG_TYPE_LWT_OUT },
	{ "lwt_xmit", BPF_PROG_TYPE_LWT_XMIT }, { "lwt_seg6local", BPF_PROG_TYPE_LWT_SEG6LOCAL },
	{ "sk_reuseport", BPF_PROG_TYPE_SK_REUSEPORT }, { "sk_lookup", BPF_PROG_TYPE_SK_LOOKUP },
	{ "struct_ops", BPF_PROG_TYPE_STRUCT_OPS }, { "syscall", BPF_PROG_TYPE_SYSCALL },
};

uint32_t bpfrt_prog_type_of_section(const char *sec)
{
	size_t best = 0;
	uint32_t type = BPF_PROG_TYPE_UNSPEC;
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
		size_t l = strlen(sections[i].prefix);
		if (!strncmp(sec, sections[i].prefix, l) && l > best) {
			best = l;
			type = sections[i].type;
		}
	}
	return type;
}

const char *bpfrt_prog_type_name(uint32_t type)
{
	static const char *const names[] = {
		[BPF_PROG_TYPE_UNSPEC] = "unspec", [BPF_PROG_TYPE_SOCKET_FILTER] = "socket_filter",
		[BPF_PROG_TYPE_KPROBE] = "kprobe", [BPF_PROG_TYPE_SCHED_CLS] = "sched_cls",
		[BPF_PROG_TYPE_SCHED_ACT] = "sched_act", [BPF_PROG_TYPE_TRACEPOINT] = "tracepoint",
		[BPF_PROG_TYPE_XDP] = "xdp", [BPF_PROG_TYPE_PERF_EVENT] = "perf_event",
		[BPF_PROG_TYPE_CGROUP_SKB] = "cgroup_skb", [BPF_PROG_TYPE_CGROUP_SOCK] = "cgroup_sock",
		[BPF_PROG_TYPE_LWT_IN] = "lwt_in", [BPF_PROG_TYPE_LWT_OUT] = "lwt_out",
		[BPF_PROG_TYPE_LWT_XMIT] = "lwt_xmit", [BPF_PROG_TYPE_SOCK_OPS] = "sock_ops",
		[BPF_PROG_TYPE_SK_SKB] = "sk_skb", [BPF_PROG_TYPE_CGROUP_DEVICE] = "cgroup_device",
		[BPF_PROG_TYPE_SK_MSG] = "sk_msg", [BPF_PROG_TYPE_RAW_TRACEPOINT] = "raw_tracepoint",
		[BPF_PROG_TYPE_CGROUP_SOCK_ADDR] = "cgroup_sock_addr",
		[BPF_PROG_TYPE_LWT_SEG6LOCAL] = "lwt_seg6local", [BPF_PROG_TYPE_LIRC_MODE2] = "lirc_mode2",
		[BPF_PROG_TYPE_SK_REUSEPORT] = "sk_reuseport",
		[BPF_PROG_TYPE_FLOW_DISSECTOR] = "flow_dissector",
		[BPF_PROG_TYPE_CGROUP_SYSCTL] = "cgroup_sysctl",
		[BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE] = "raw_tracepoint_writable",
		[BPF_PROG_TYPE_CGROUP_SOCKOPT] = "cgroup_sockopt", [BPF_PROG_TYPE_TRACING] = "tracing",
		[BPF_PROG_TYPE_STRUCT_OPS] = "struct_ops", [BPF_PROG_TYPE_EXT] = "ext",
		[BPF_PROG_TYPE_LSM] = "lsm", [BPF_PROG_TYPE_SK_LOOKUP] = "sk_lookup",
		[BPF_PROG_TYPE_SYSCALL] = "syscall",
	};
	return type < ARRAY_SIZE(names) && names[type] ? names[type] : "unknown";
}

const char *bpfrt_map_type_name(uint32_t type)
{
	static const char *const names[] = {
		[BPF_MAP_TYPE_UNSPEC] = "unspec", [BPF_MAP_TYPE_HASH] = "hash",
		[BPF_MAP_TYPE_ARRAY] = "array", [BPF_MAP_TYPE_PROG_ARRAY] = "prog_array",
		[BPF_MAP_TYPE_PERF_EVENT_ARRAY] = "perf_event_array",
		[BPF_MAP_TYPE_PERCPU_HASH] = "percpu_hash", [BPF_MAP_TYPE_PERCPU_ARRAY] = "percpu_array",
		[BPF_MAP_TYPE_STACK_TRACE] = "stack_trace", [BPF_MAP_TYPE_CGROUP_ARRAY] = "cgroup_array",
		[BPF_MAP_TYPE_LRU_HASH] = "lru_hash", [BPF_MAP_TYPE_LRU_PERCPU_HASH] = "lru_percpu_hash",
		[BPF_MAP_TYPE_LPM_TRIE] = "lpm_trie", [BPF_MAP_TYPE_ARRAY_OF_MAPS] = "array_of_maps",
		[BPF_MAP_TYPE_HASH_OF_MAPS] = "hash_of_maps", [BPF_MAP_TYPE_DEVMAP] = "devmap",
		[BPF_MAP_TYPE_SOCKMAP] = "sockmap", [BPF_MAP_TYPE_CPUMAP] = "cpumap",
		[BPF_MAP_TYPE_XSKMAP] = "xskmap", [BPF_MAP_TYPE_SOCKHASH] = "sockhash",
		[BPF_MAP_TYPE_QUEUE] = "queue", [BPF_MAP_TYPE_STACK] = "stack",
		[BPF_MAP_TYPE_RINGBUF] = "ringbuf",
	};
	return type < ARRAY_SIZE(names) && names[type] ? names[type] : "unknown";
}
