// SPDX-License-Identifier: GPL-2.0
/* xdp_count.bpf.c — an XDP program as written for the kernel: parses
 * Ethernet and IPv4 with bounds checks against data_end, counts packets per
 * IP protocol in a hash map, swaps the MAC addresses, and drops UDP. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} protos SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} bytes SEC(".maps");

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	__u32 k = eth->h_proto == bpf_htons(ETH_P_IP) ? 0 : 1;
	__u64 *b = bpf_map_lookup_elem(&bytes, &k);
	if (b)
		__sync_fetch_and_add(b, (__u64)(data_end - data));
	if (k)
		return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_ABORTED;
	__u32 proto = ip->protocol;
	__u64 one = 1, *cnt = bpf_map_lookup_elem(&protos, &proto);
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	else
		bpf_map_update_elem(&protos, &proto, &one, BPF_NOEXIST);
	__u8 tmp[ETH_ALEN];
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return proto == IPPROTO_UDP ? XDP_DROP : XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
