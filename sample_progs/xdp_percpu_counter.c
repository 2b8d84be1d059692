// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_percpu_counter.c - per-CPU packet and byte counters by protocol.
 *
 * The classic first XDP program: look at each frame, work out what it carries, count
 * it, and let it through. Counters live in per-CPU maps, so each CPU increments its own
 * copy with plain (non-atomic) adds and user space sums the copies when it reads them
 * (`bpftool map dump` shows one value per CPU).
 *
 *   proto_stats (percpu_array): one slot per enum proto_class, {packets, bytes}
 *   ethertype_stats (percpu_hash): packets per raw ethertype (after VLAN tags),
 *       entries created on first sight with bpf_map_update_elem(BPF_NOEXIST)
 *
 * Every frame gets XDP_PASS: this program only observes.
 *
 * Helpers: bpf_map_lookup_elem, bpf_map_update_elem
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

enum proto_class {
	PC_OTHER_L2,  /* neither IP nor ARP */
	PC_ARP,
	PC_IPV4_TCP,
	PC_IPV4_UDP,
	PC_IPV4_ICMP,
	PC_IPV4_OTHER,
	PC_IPV6_TCP,
	PC_IPV6_UDP,
	PC_IPV6_ICMP,
	PC_IPV6_OTHER,
	PC_TRUNCATED, /* the L3 header did not fit in the frame */
	PC_MAX,
};

struct counter {
	__u64 packets;
	__u64 bytes;
};

struct vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PC_MAX);
	__type(key, __u32);
	__type(value, struct counter);
} proto_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 32);
	__type(key, __u16); /* ethertype, host byte order */
	__type(value, __u64);
} ethertype_stats SEC(".maps");

static __always_inline enum proto_class classify_l4(__u8 proto, int ipv6)
{
	switch (proto) {
	case IPPROTO_TCP:
		return ipv6 ? PC_IPV6_TCP : PC_IPV4_TCP;
	case IPPROTO_UDP:
		return ipv6 ? PC_IPV6_UDP : PC_IPV4_UDP;
	case IPPROTO_ICMP:
		return ipv6 ? PC_IPV6_OTHER : PC_IPV4_ICMP;
	case IPPROTO_ICMPV6:
		return ipv6 ? PC_IPV6_ICMP : PC_IPV4_OTHER;
	default:
		return ipv6 ? PC_IPV6_OTHER : PC_IPV4_OTHER;
	}
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	void *l3 = eth + 1;
	enum proto_class pc = PC_OTHER_L2;
	struct counter *cnt;
	__u16 ethertype;
	__u64 *seen;
	__u32 key;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS; /* cannot happen for a real frame (>= 14 bytes) */
	ethertype = bpf_ntohs(eth->h_proto);

	/* One VLAN tag. */
	if (ethertype == ETH_P_8021Q || ethertype == ETH_P_8021AD) {
		struct vlan_hdr *vh = l3;

		if ((void *)(vh + 1) > data_end) {
			pc = PC_TRUNCATED;
			goto count;
		}
		ethertype = bpf_ntohs(vh->encapsulated_proto);
		l3 = vh + 1;
	}

	if (ethertype == ETH_P_ARP) {
		pc = PC_ARP;
	} else if (ethertype == ETH_P_IP) {
		struct iphdr *iph = l3;

		if ((void *)(iph + 1) > data_end)
			pc = PC_TRUNCATED;
		else
			pc = classify_l4(iph->protocol, 0);
	} else if (ethertype == ETH_P_IPV6) {
		struct ipv6hdr *ip6h = l3;

		if ((void *)(ip6h + 1) > data_end)
			pc = PC_TRUNCATED;
		else
			pc = classify_l4(ip6h->nexthdr, 1);
	}

	/* Per-ethertype packet count: look up, create on first sight. */
	seen = bpf_map_lookup_elem(&ethertype_stats, &ethertype);
	if (seen) {
		*seen += 1;
	} else {
		__u64 one = 1;

		/* Creating the entry sets this CPU's copy to 1 and the others to 0. */
		bpf_map_update_elem(&ethertype_stats, &ethertype, &one, BPF_NOEXIST);
	}

count:
	key = pc;
	cnt = bpf_map_lookup_elem(&proto_stats, &key);
	if (cnt) {
		cnt->packets += 1;
		cnt->bytes += data_end - data;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
