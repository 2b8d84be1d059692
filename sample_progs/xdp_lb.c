// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_lb.c - an XDP layer-4 load balancer with IP-in-IP encapsulation.
 *
 * A client sends TCP or UDP to a virtual IP (VIP). This program, running on the load
 * balancer's NIC, picks a backend for the flow and sends the packet straight back out
 * (XDP_TX) wrapped in an outer IPv4 header addressed to the backend (IPPROTO_IPIP). The
 * backend decapsulates it and answers the client directly (direct server return).
 *
 *   1. VIP lookup:      vips (hash) {vip addr, port, proto} -> {vip id, backend count}
 *   2. backend choice:  a client prefix pinned in client_pinning (LPM trie) wins;
 *                       otherwise hash(5-tuple) % backend count, so every packet of a
 *                       flow reaches the same backend
 *                       backends (hash) {vip id, slot} -> backend address
 *   3. forwarding:      inner TTL decremented (incremental checksum update, RFC 1624),
 *                       bpf_xdp_adjust_head() makes room for the outer header, whose
 *                       checksum is computed with bpf_csum_diff(); MACs rewritten
 *                       towards the gateway; XDP_TX.
 *
 * Non-VIP traffic, IPv6, fragments and ICMP are passed to the stack. A VIP without
 * backends, an expired TTL or a truncated header drops the packet.
 *
 * Maps:    vips, backends (hash), client_pinning (lpm_trie), lb_stats (percpu_array),
 *          .rodata (the load balancer's own address and the gateway MAC)
 * Helpers: bpf_map_lookup_elem, bpf_xdp_adjust_head, bpf_csum_diff
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define IP_DF     0x4000
#define IP_MF     0x2000
#define IP_OFFSET 0x1fff

#define MAX_VIPS     64
#define MAX_BACKENDS 256

struct vip_key {
	__be32 addr;
	__be16 port;
	__u8   proto;
	__u8   pad; /* keys are compared byte by byte: padding must be zero */
};

struct vip_info {
	__u32 id;         /* selects the VIP's rows in `backends` */
	__u32 n_backends; /* healthy backends in slots 0 .. n_backends-1 */
};

struct backend_key {
	__u32 vip_id;
	__u32 slot;
};

struct backend {
	__be32 addr; /* where the encapsulated packet goes */
	__u32  id;   /* for the operator's bookkeeping */
};

/* LPM trie keys start with the prefix length in bits, then the address bytes. */
struct lpm_v4_key {
	__u32  prefixlen;
	__be32 addr;
};

enum lb_stat {
	ST_RX_VIP,      /* packets to a VIP, balanced */
	ST_PINNED,      /* of those, backend chosen by client_pinning */
	ST_NOT_VIP,     /* passed: not for us */
	ST_NO_BACKEND,  /* dropped: VIP has no backend */
	ST_TTL_EXPIRED, /* dropped */
	ST_MALFORMED,   /* dropped */
	ST_ERROR,       /* dropped: adjust_head or lookup failure */
	ST_MAX,
};

struct lb_counter {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_VIPS);
	__type(key, struct vip_key);
	__type(value, struct vip_info);
} vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_BACKENDS);
	__type(key, struct backend_key);
	__type(value, struct backend);
} backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__type(key, struct lpm_v4_key);
	__type(value, __u32);                /* backend slot */
	__uint(map_flags, BPF_F_NO_PREALLOC); /* mandatory for LPM tries */
} client_pinning SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ST_MAX);
	__type(key, __u32);
	__type(value, struct lb_counter);
} lb_stats SEC(".maps");

/* Configuration in .rodata. `const volatile` keeps clang from folding the values, so a
 * loader (a libbpf skeleton) can set them before the program is loaded. */
const volatile __be32 lb_self_addr = bpf_htonl(0x0a000001);            /* 10.0.0.1 */
const volatile __u8 gateway_mac[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe };

static __always_inline void bump_stat(enum lb_stat stat, __u64 bytes)
{
	__u32 key = stat;
	struct lb_counter *c = bpf_map_lookup_elem(&lb_stats, &key);

	if (c) { /* per-CPU: no other CPU touches this copy, plain adds are enough */
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline int stat_and_return(enum lb_stat stat, __u64 bytes, int action)
{
	bump_stat(stat, bytes);
	return action;
}

/* Fold a 32-bit one's complement sum to 16 bits and complement it. */
static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* RFC 1624, eqn. 3: when a 16-bit word of a header changes from `old` to `new`, the
 * checksum becomes HC' = ~(~HC + ~old + new). Words are taken as stored (network
 * order); one's complement sums do not care about byte order. */
static __always_inline void csum_replace16(__sum16 *check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~*check;

	sum += (__u16)~old;
	sum += new;
	*check = csum_fold(sum);
}

/* A small integer mixer (the MurmurHash3 finaliser): every input bit affects every
 * output bit, so nearby ports and addresses spread over the backends. */
static __always_inline __u32 mix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

static __always_inline __u32 flow_hash(__be32 saddr, __be32 daddr, __be16 sport, __be16 dport,
				       __u8 proto)
{
	__u32 h = mix32(saddr ^ 0x9e3779b9);

	h = mix32(h ^ daddr);
	h = mix32(h ^ (((__u32)sport << 16) | dport));
	return mix32(h ^ proto);
}

SEC("xdp")
int xdp_lb(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u64 bytes = data_end - data;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct vip_key vkey = {};
	struct vip_info *vip;
	struct backend_key bkey;
	struct backend *be;
	struct lpm_v4_key lkey;
	__u32 *pinned_slot;
	__u16 *ports; /* [0] source port, [1] destination port (TCP and UDP agree) */
	__u32 hdr_len;
	__u16 inner_len, old_ttl_word;
	__u8 inner_tos;

	if ((void *)(eth + 1) > data_end)
		return stat_and_return(ST_MALFORMED, bytes, XDP_DROP);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return stat_and_return(ST_NOT_VIP, bytes, XDP_PASS);

	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end)
		return stat_and_return(ST_MALFORMED, bytes, XDP_DROP);
	hdr_len = iph->ihl * 4;
	if (hdr_len < sizeof(*iph))
		return stat_and_return(ST_MALFORMED, bytes, XDP_DROP);
	if (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP)
		return stat_and_return(ST_NOT_VIP, bytes, XDP_PASS);
	/* Fragments have no (or no complete) ports: leave them to the stack. */
	if (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return stat_and_return(ST_NOT_VIP, bytes, XDP_PASS);

	ports = (void *)iph + hdr_len;
	if ((void *)(ports + 2) > data_end)
		return stat_and_return(ST_MALFORMED, bytes, XDP_DROP);

	/* 1. Is this a VIP? */
	vkey.addr = iph->daddr;
	vkey.port = ports[1];
	vkey.proto = iph->protocol;
	vip = bpf_map_lookup_elem(&vips, &vkey);
	if (!vip)
		return stat_and_return(ST_NOT_VIP, bytes, XDP_PASS);
	if (vip->n_backends == 0)
		return stat_and_return(ST_NO_BACKEND, bytes, XDP_DROP);

	/* 2. Pick a backend slot: pinned client prefix first, then the flow hash. */
	lkey.prefixlen = 32;
	lkey.addr = iph->saddr;
	pinned_slot = bpf_map_lookup_elem(&client_pinning, &lkey);
	bkey.vip_id = vip->id;
	if (pinned_slot && *pinned_slot < vip->n_backends) {
		bkey.slot = *pinned_slot;
		bump_stat(ST_PINNED, bytes);
	} else {
		bkey.slot = flow_hash(iph->saddr, iph->daddr, ports[0], ports[1], iph->protocol) %
			    vip->n_backends;
	}
	be = bpf_map_lookup_elem(&backends, &bkey);
	if (!be)
		return stat_and_return(ST_ERROR, bytes, XDP_DROP);

	/* 3a. Route the inner packet: decrement its TTL, patching the checksum. */
	if (iph->ttl <= 1)
		return stat_and_return(ST_TTL_EXPIRED, bytes, XDP_DROP);
	old_ttl_word = *(__u16 *)&iph->ttl; /* ttl and protocol share one 16-bit word */
	iph->ttl--;
	csum_replace16(&iph->check, old_ttl_word, *(__u16 *)&iph->ttl);

	/* Remember what the outer header needs: the pointers die at adjust_head. */
	inner_len = bpf_ntohs(iph->tot_len);
	inner_tos = iph->tos;

	/* 3b. Grow the packet at the front by one IPv4 header. After this call every
	 * packet pointer derived from the old ctx->data is invalid (the verifier
	 * forgets them), so data and data_end are loaded again. */
	if (bpf_xdp_adjust_head(ctx, 0 - (int)sizeof(struct iphdr)))
		return stat_and_return(ST_ERROR, bytes, XDP_DROP);

	data_end = (void *)(long)ctx->data_end;
	data = (void *)(long)ctx->data;
	{
		struct ethhdr *new_eth = data;
		struct ethhdr *old_eth = data + sizeof(struct iphdr);
		struct iphdr *outer = (void *)(new_eth + 1);
		struct iphdr hdr = {};
		int i;

		if ((void *)(outer + 1) > data_end)
			return stat_and_return(ST_ERROR, bytes, XDP_DROP);

		/* Ethernet: from us (the old destination) to the gateway. */
#pragma unroll
		for (i = 0; i < ETH_ALEN; i++) {
			new_eth->h_source[i] = old_eth->h_dest[i];
			new_eth->h_dest[i] = gateway_mac[i];
		}
		new_eth->h_proto = bpf_htons(ETH_P_IP);

		/* Build the outer header on the stack, checksum it, copy it in. */
		hdr.version = 4;
		hdr.ihl = 5;
		hdr.tos = inner_tos;
		hdr.tot_len = bpf_htons(inner_len + sizeof(struct iphdr));
		hdr.id = 0;
		hdr.frag_off = bpf_htons(IP_DF);
		hdr.ttl = 64;
		hdr.protocol = IPPROTO_IPIP;
		hdr.check = 0;
		hdr.saddr = lb_self_addr;
		hdr.daddr = be->addr;
		hdr.check = csum_fold(bpf_csum_diff(0, 0, (__be32 *)&hdr, sizeof(hdr), 0));
		*outer = hdr;
	}
	return stat_and_return(ST_RX_VIP, bytes, XDP_TX);
}

char LICENSE[] SEC("license") = "GPL";
