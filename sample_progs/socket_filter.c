// SPDX-License-Identifier: GPL-2.0
/*
 * socket_filter.c - a socket filter (SO_ATTACH_BPF) that keeps DNS and TCP handshakes.
 *
 * A socket filter decides how much of each packet the socket gets: it returns the
 * number of bytes to keep (0 drops the packet, skb->len or more keeps all of it). Like
 * `tcpdump -s 96 'udp port 53 or tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0'`,
 * this one keeps
 *
 *   - DNS (UDP port 53 either way): whole packet
 *   - TCP segments with SYN, FIN or RST: the first SNAP_LEN bytes (headers only)
 *   - nothing else (returns 0)
 *
 * Socket filters cannot read the packet through skb->data; they use either
 *   - the legacy packet loads LD_ABS / LD_IND (classic BPF's `ldb [x + 9]`), reached
 *     from C through clang's llvm.bpf.load.* builtins: big-endian, relative to the
 *     start of the packet as the socket sees it, and they end the program (returning
 *     0) if the offset is past the end; or
 *   - bpf_skb_load_bytes(), which copies bytes out and returns an error instead.
 * Both are used here. For an IP (AF_INET) socket, and in BPF_PROG_TEST_RUN, the packet
 * starts at the IP header: there is no Ethernet header to skip.
 *
 * Maps:    sock_stats (array): packets kept / dropped / short
 * Helpers: bpf_skb_load_bytes, bpf_map_lookup_elem (plus LD_ABS/LD_IND instructions)
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* LLVM intrinsics that compile to BPF_LD | BPF_ABS / BPF_IND. `skb` must be the
 * context pointer; the result is converted to host order. */
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

#define SNAP_LEN 96

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04

enum { ST_DNS, ST_TCP_CTRL, ST_DROPPED, ST_SHORT, ST_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ST_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sock_stats SEC(".maps");

static __always_inline void bump(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&sock_stats, &stat);

	if (v)
		__sync_fetch_and_add(v, 1);
}

/* The transport protocol and the offset of its header, or -1 for "not interesting". */
static __always_inline int l4_of(struct __sk_buff *skb, __u8 *proto)
{
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		/* IPv4 with LD_ABS: these loads end the program if the packet is shorter. */
		__u8 vihl = load_byte(skb, 0);
		__u16 frag = load_half(skb, offsetof(struct iphdr, frag_off));

		if (frag & 0x1fff)
			return -1; /* non-first fragment: no transport header */
		*proto = load_byte(skb, offsetof(struct iphdr, protocol));
		return (vihl & 0xf) * 4;
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		/* IPv6 with bpf_skb_load_bytes: the next header field, fixed offset. */
		if (bpf_skb_load_bytes(skb, offsetof(struct ipv6hdr, nexthdr), proto, 1))
			return -1;
		return sizeof(struct ipv6hdr);
	}
	return -1;
}

SEC("socket")
int socket_dns_tcpctl(struct __sk_buff *skb)
{
	__u8 proto = 0;
	int l4 = l4_of(skb, &proto);

	if (l4 < 0)
		goto drop;

	if (proto == IPPROTO_UDP) {
		__u16 ports[2];

		/* LD_IND would also work (load_half(skb, l4)); show the copying helper. */
		if (bpf_skb_load_bytes(skb, l4, ports, sizeof(ports))) {
			bump(ST_SHORT);
			return 0;
		}
		if (ports[0] == bpf_htons(53) || ports[1] == bpf_htons(53)) {
			bump(ST_DNS);
			return skb->len; /* everything */
		}
	} else if (proto == IPPROTO_TCP) {
		/* LD_IND: the offset is in a register (l4 + 13, the flags byte). */
		__u8 flags = load_byte(skb, l4 + 13);

		if (flags & (TH_SYN | TH_FIN | TH_RST)) {
			bump(ST_TCP_CTRL);
			return SNAP_LEN;
		}
	}
drop:
	bump(ST_DROPPED);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
