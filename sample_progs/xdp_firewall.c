// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_firewall.c - a stateless XDP firewall (bpfdbg's bundled default sample).
 *
 * Every frame is parsed (Ethernet, up to two VLAN tags, IPv4 or IPv6, TCP/UDP/ICMP)
 * and matched against a hash map of rules that user space fills in:
 *
 *   1. source-address rules (IPv4 only): key {RULE_SRC_V4, 0, 0, saddr}
 *   2. protocol + destination port rules: key {RULE_L4_PORT, proto, dport, 0}
 *      (ICMP and other protocols without ports use dport 0)
 *
 * Source rules are checked first, so an "always allow this admin host" rule beats a
 * "drop telnet" rule. A matching rule's value says what to do (XDP_DROP or XDP_PASS)
 * and which counter slot to charge. Frames that match nothing are passed. Frames whose
 * headers are cut short are dropped and counted as malformed; frames that are not IP
 * (ARP, LLDP, ...) are passed and counted as non-IP.
 *
 * Maps:   fw_rules    (hash: struct fw_key -> struct fw_rule)       filled by user space
 *         fw_counters (array: rule id -> struct fw_counter)         updated atomically
 * Helpers: bpf_map_lookup_elem
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

/* The uapi headers do not define these (the kernel keeps them in net/ip.h). */
#define IP_MF     0x2000 /* "more fragments" flag */
#define IP_OFFSET 0x1fff /* fragment offset, in 8-byte units */

#define MAX_VLAN_DEPTH 2   /* 802.1Q, or 802.1ad (QinQ) outer tag + 802.1Q inner tag */
#define MAX_COUNTERS   64

/* An 802.1Q / 802.1ad tag as it sits between the MAC addresses and the ethertype. */
struct vlan_hdr {
	__be16 tci;               /* priority (3 bits), DEI (1), VLAN id (12) */
	__be16 encapsulated_proto; /* the ethertype of what follows */
};

enum rule_kind {
	RULE_L4_PORT = 1,
	RULE_SRC_V4  = 2,
};

/* The rule key: one struct for both rule kinds, unused fields are zero. */
struct fw_key {
	__u8   kind;  /* enum rule_kind */
	__u8   proto; /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, ... */
	__be16 port;  /* destination port, network byte order; 0 when the protocol has none */
	__be32 addr;  /* IPv4 source address, network byte order */
};

struct fw_rule {
	__u32 action; /* XDP_DROP or XDP_PASS */
	__u32 id;     /* counter slot in fw_counters (>= CNT_FIRST_RULE) */
};

struct fw_counter {
	__u64 packets;
	__u64 bytes;
};

/* Counter slots that are not rules. */
enum {
	CNT_DEFAULT    = 0, /* no rule matched: passed by the default policy */
	CNT_MALFORMED  = 1, /* headers cut short or invalid: dropped */
	CNT_NON_IP     = 2, /* ARP, LLDP, ...: passed */
	CNT_FIRST_RULE = 3,
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct fw_key);
	__type(value, struct fw_rule);
} fw_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_COUNTERS);
	__type(key, __u32);
	__type(value, struct fw_counter);
} fw_counters SEC(".maps");

/* Charge one packet of `bytes` bytes to counter slot `id`, then return `action`.
 * The array is shared by all CPUs, so the adds are atomic (BPF_ATOMIC | BPF_ADD). */
static __always_inline int count_and_return(__u32 id, __u64 bytes, int action)
{
	struct fw_counter *c = bpf_map_lookup_elem(&fw_counters, &id);

	if (c) { /* NULL only if id >= MAX_COUNTERS: a bad rule from user space */
		__sync_fetch_and_add(&c->packets, 1);
		__sync_fetch_and_add(&c->bytes, bytes);
	}
	return action;
}

static __always_inline int apply_rule(const struct fw_rule *rule, __u64 bytes)
{
	/* Anything but an explicit PASS is treated as DROP: a firewall fails closed. */
	int action = rule->action == XDP_PASS ? XDP_PASS : XDP_DROP;

	return count_and_return(rule->id, bytes, action);
}

SEC("xdp")
int xdp_firewall(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u64 bytes = data_end - data;
	struct ethhdr *eth = data;
	struct fw_key key = {};
	struct fw_rule *rule;
	void *cursor;      /* where the next header starts */
	void *l4;          /* the transport header, once we know where it is */
	__be16 eth_proto;  /* ethertype, network byte order */
	__u8 l4_proto;
	int i;

	/* Every access to packet memory must be preceded by a check against data_end;
	 * the verifier rejects the program otherwise. */
	if ((void *)(eth + 1) > data_end)
		return count_and_return(CNT_MALFORMED, bytes, XDP_DROP);
	eth_proto = eth->h_proto;
	cursor = eth + 1;

	/* Skip VLAN tags. The loop has a constant bound, so clang unrolls it. */
#pragma unroll
	for (i = 0; i < MAX_VLAN_DEPTH; i++) {
		struct vlan_hdr *vlan = cursor;

		if (eth_proto != bpf_htons(ETH_P_8021Q) && eth_proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vlan + 1) > data_end)
			return count_and_return(CNT_MALFORMED, bytes, XDP_DROP);
		eth_proto = vlan->encapsulated_proto;
		cursor = vlan + 1;
	}

	if (eth_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = cursor;
		__u32 hdr_len;

		if ((void *)(iph + 1) > data_end)
			return count_and_return(CNT_MALFORMED, bytes, XDP_DROP);
		/* ihl counts 32-bit words: 5 (20 bytes, no options) to 15 (60 bytes). */
		hdr_len = iph->ihl * 4;
		if (hdr_len < sizeof(*iph))
			return count_and_return(CNT_MALFORMED, bytes, XDP_DROP);
		if (cursor + hdr_len > data_end)
			return count_and_return(CNT_MALFORMED, bytes, XDP_DROP);

		/* 1. Source-address rules. */
		key.kind = RULE_SRC_V4;
		key.addr = iph->saddr;
		rule = bpf_map_lookup_elem(&fw_rules, &key);
		if (rule)
			return apply_rule(rule, bytes);

		/* Only the first fragment carries the TCP/UDP header; later fragments
		 * cannot be matched on ports and fall to the default policy. */
		if (iph->frag_off & bpf_htons(IP_OFFSET))
			return count_and_return(CNT_DEFAULT, bytes, XDP_PASS);

		l4_proto = iph->protocol;
		l4 = cursor + hdr_len;
	} else if (eth_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = cursor;

		if ((void *)(ip6h + 1) > data_end)
			return count_and_return(CNT_MALFORMED, bytes, XDP_DROP);
		/* Extension headers are not walked here (see xdp_loop_parser.c): a packet
		 * whose first next-header is, say, hop-by-hop options is matched with
		 * proto 0 and usually falls to the default policy. */
		l4_proto = ip6h->nexthdr;
		l4 = ip6h + 1;
	} else {
		return count_and_return(CNT_NON_IP, bytes, XDP_PASS);
	}

	/* 2. Protocol + destination port rules. */
	key.kind = RULE_L4_PORT;
	key.proto = l4_proto;
	key.port = 0;
	key.addr = 0;
	if (l4_proto == IPPROTO_TCP) {
		struct tcphdr *tcph = l4;

		if ((void *)(tcph + 1) > data_end)
			return count_and_return(CNT_MALFORMED, bytes, XDP_DROP);
		key.port = tcph->dest;
	} else if (l4_proto == IPPROTO_UDP) {
		struct udphdr *udph = l4;

		if ((void *)(udph + 1) > data_end)
			return count_and_return(CNT_MALFORMED, bytes, XDP_DROP);
		key.port = udph->dest;
	}
	rule = bpf_map_lookup_elem(&fw_rules, &key);
	if (rule)
		return apply_rule(rule, bytes);

	return count_and_return(CNT_DEFAULT, bytes, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
