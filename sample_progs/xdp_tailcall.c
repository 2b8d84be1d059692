// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_tailcall.c - a protocol dispatcher built from tail calls.
 *
 * Large XDP applications are split into small programs that jump to each other with
 * bpf_tail_call(): the jump replaces the running program (same stack frame depth, same
 * ctx) and never returns; if the slot in the program array is empty, the call fails and
 * execution simply continues after it.
 *
 *   xdp_dispatch  parses Ethernet, stores what it learned in the XDP metadata area in
 *                 front of the packet (bpf_xdp_adjust_meta) and jumps on the ethertype:
 *                 IPv4 -> slot PROG_IPV4, IPv6 -> PROG_IPV6, ARP -> PROG_ARP (left
 *                 empty on purpose: the tail call fails and ARP falls through to
 *                 XDP_PASS).
 *   handle_ipv4 / handle_ipv6  check the L3 header, record the L4 offset in the
 *                 metadata, jump to PROG_TCP / PROG_UDP; ICMP is passed.
 *   handle_tcp    drops scans with impossible flag combinations (NULL, SYN+FIN, XMAS).
 *   handle_udp    drops traffic from the usual reflection-attack source ports
 *                 (chargen 19, SSDP 1900, memcached 11211).
 *
 * The program array is filled statically by the loader from `.values` below, so
 * nothing has to be inserted from user space. Each handler can also be run on its own,
 * without the dispatcher: then the metadata is missing and it passes the packet.
 * Note that the metadata stays in front of the packet: a test run returns the packet
 * with the 8 metadata bytes at its start.
 *
 * Maps:    jmp_table (prog_array), dispatch_stats (percpu_array)
 * Helpers: bpf_tail_call, bpf_xdp_adjust_meta, bpf_map_lookup_elem
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

enum {
	PROG_IPV4 = 0,
	PROG_IPV6 = 1,
	PROG_ARP  = 2,
	PROG_TCP  = 3,
	PROG_UDP  = 4,
	PROG_MAX  = 8,
	STAT_TAIL_CALL_FAILED = PROG_MAX, /* dispatch_stats slot */
	STAT_DROPPED,
	STAT_MAX,
};

/* Passed from program to program in the metadata area (its size must be a multiple
 * of 4). The magic tells a handler that a dispatcher really wrote it. */
#define META_MAGIC 0xb7
struct meta {
	__u8  magic;
	__u8  l4_proto;
	__u16 l3_off; /* offset of the IP header from ctx->data */
	__u16 l4_off; /* offset of the TCP/UDP header from ctx->data */
	__u16 pad;
};

#define MAX_L3_OFF 64  /* bounds for offsets read back from metadata */
#define MAX_L4_OFF 256

/* Forward declarations: the program array below refers to the handlers. */
int handle_ipv4(struct xdp_md *ctx);
int handle_ipv6(struct xdp_md *ctx);
int handle_tcp(struct xdp_md *ctx);
int handle_udp(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, PROG_MAX);
	/* key_size, not __type(key, ...): the kernel accepts no BTF types on a prog_array */
	__uint(key_size, sizeof(__u32));
	__array(values, int(struct xdp_md *));
} jmp_table SEC(".maps") = {
	.values = {
		[PROG_IPV4] = (void *)&handle_ipv4,
		[PROG_IPV6] = (void *)&handle_ipv6,
		/* [PROG_ARP] deliberately empty */
		[PROG_TCP] = (void *)&handle_tcp,
		[PROG_UDP] = (void *)&handle_udp,
	},
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64); /* how often each program ran */
} dispatch_stats SEC(".maps");

static __always_inline void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&dispatch_stats, &slot);

	if (v)
		*v += 1;
}

static __always_inline int drop(void)
{
	bump(STAT_DROPPED);
	return XDP_DROP;
}

/* The metadata, if a dispatcher wrote it: it sits between data_meta and data. */
static __always_inline struct meta *get_meta(struct xdp_md *ctx)
{
	struct meta *m = (void *)(long)ctx->data_meta;

	if ((void *)(m + 1) > (void *)(long)ctx->data)
		return NULL;
	if (m->magic != META_MAGIC)
		return NULL;
	return m;
}

SEC("xdp")
int xdp_dispatch(struct xdp_md *ctx)
{
	void *data_end, *data;
	struct ethhdr *eth;
	struct meta *m;
	__u16 proto;
	__u32 slot;

	/* Reserve the metadata first: adjust_meta invalidates packet pointers. */
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct meta)))
		return XDP_PASS; /* driver without metadata support */

	data_end = (void *)(long)ctx->data_end;
	data = (void *)(long)ctx->data;
	m = (void *)(long)ctx->data_meta;
	eth = data;
	if ((void *)(m + 1) > data || (void *)(eth + 1) > data_end)
		return drop();

	proto = bpf_ntohs(eth->h_proto);
	m->magic = META_MAGIC;
	m->l4_proto = 0;
	m->l3_off = sizeof(*eth);
	m->l4_off = 0;
	m->pad = 0;

	switch (proto) {
	case ETH_P_IP:
		slot = PROG_IPV4;
		break;
	case ETH_P_IPV6:
		slot = PROG_IPV6;
		break;
	case ETH_P_ARP:
		slot = PROG_ARP;
		break;
	default:
		return XDP_PASS;
	}

	bpf_tail_call(ctx, &jmp_table, slot);
	/* Only reached when the slot is empty (or the tail-call limit of 33 is hit). */
	bump(STAT_TAIL_CALL_FAILED);
	return XDP_PASS;
}

SEC("xdp")
int handle_ipv4(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct meta *m = get_meta(ctx);
	struct iphdr *iph;
	__u32 l3_off, hdr_len;

	bump(PROG_IPV4);
	if (!m)
		return XDP_PASS;
	l3_off = m->l3_off;
	if (l3_off > MAX_L3_OFF) /* a bound the verifier can see */
		return drop();
	iph = data + l3_off;
	if ((void *)(iph + 1) > data_end)
		return drop();
	hdr_len = iph->ihl * 4;
	if (hdr_len < sizeof(*iph) || iph->version != 4)
		return drop();

	m->l4_proto = iph->protocol;
	m->l4_off = l3_off + hdr_len;
	if (iph->protocol == IPPROTO_TCP)
		bpf_tail_call(ctx, &jmp_table, PROG_TCP);
	else if (iph->protocol == IPPROTO_UDP)
		bpf_tail_call(ctx, &jmp_table, PROG_UDP);
	return XDP_PASS;
}

SEC("xdp")
int handle_ipv6(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct meta *m = get_meta(ctx);
	struct ipv6hdr *ip6h;
	__u32 l3_off;

	bump(PROG_IPV6);
	if (!m)
		return XDP_PASS;
	l3_off = m->l3_off;
	if (l3_off > MAX_L3_OFF)
		return drop();
	ip6h = data + l3_off;
	if ((void *)(ip6h + 1) > data_end)
		return drop();
	if (ip6h->version != 6)
		return drop();

	m->l4_proto = ip6h->nexthdr;
	m->l4_off = l3_off + sizeof(*ip6h);
	if (ip6h->nexthdr == IPPROTO_TCP)
		bpf_tail_call(ctx, &jmp_table, PROG_TCP);
	else if (ip6h->nexthdr == IPPROTO_UDP)
		bpf_tail_call(ctx, &jmp_table, PROG_UDP);
	return XDP_PASS;
}

/* TCP flags byte (offset 13 of the TCP header). */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20

SEC("xdp")
int handle_tcp(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct meta *m = get_meta(ctx);
	struct tcphdr *th;
	__u32 l4_off;
	__u8 flags;

	bump(PROG_TCP);
	if (!m || m->l4_proto != IPPROTO_TCP)
		return XDP_PASS;
	l4_off = m->l4_off;
	if (l4_off > MAX_L4_OFF)
		return drop();
	th = data + l4_off;
	if ((void *)(th + 1) > data_end)
		return drop();

	flags = ((__u8 *)th)[13];
	if (flags == 0)                                  /* NULL scan */
		return drop();
	if ((flags & (TH_SYN | TH_FIN)) == (TH_SYN | TH_FIN)) /* SYN+FIN */
		return drop();
	if ((flags & (TH_FIN | TH_PSH | TH_URG)) == (TH_FIN | TH_PSH | TH_URG) &&
	    !(flags & TH_ACK))                           /* XMAS scan */
		return drop();
	return XDP_PASS;
}

SEC("xdp")
int handle_udp(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct meta *m = get_meta(ctx);
	struct udphdr *uh;
	__u32 l4_off;
	__u16 sport;

	bump(PROG_UDP);
	if (!m || m->l4_proto != IPPROTO_UDP)
		return XDP_PASS;
	l4_off = m->l4_off;
	if (l4_off > MAX_L4_OFF)
		return drop();
	uh = data + l4_off;
	if ((void *)(uh + 1) > data_end)
		return drop();

	sport = bpf_ntohs(uh->source);
	if (sport == 19 || sport == 1900 || sport == 11211)
		return drop();
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
