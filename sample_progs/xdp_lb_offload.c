// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_lb_offload.c - the xdp_lb load balancer, rewritten to run on an NFP SmartNIC
 * (XDP hardware offload, `ip link set dev X xdpoffload obj xdp_lb_offload.o`).
 *
 * Same job as xdp_lb.c: a packet to a virtual IP (VIP) gets a backend for its flow and
 * goes straight back out (XDP_TX) inside an outer IPv4 header addressed to the backend
 * (IP-in-IP, direct server return). What changed, and why (each is an offload rule):
 *
 *   - no LPM trie, no per-CPU array, no .rodata: the device offloads hash and array maps
 *     only, and has no direct access to global data. The client pinning table is a hash
 *     keyed by the /32 client address, the statistics a plain array updated with atomic
 *     adds (the device's atomic engine), the configuration an array of one element;
 *   - no `%`: the device has no modulo and divides by constants only. The flow hash is
 *     mapped onto the backend slots with a 32x32->64 multiply and a shift (Lemire's
 *     "fast range"), which needs both operands within 32 bits, as the offload demands;
 *   - no bpf_csum_diff(): the outer header checksum is summed here, word by word;
 *   - the only helpers are the ones the public firmware offers: bpf_map_lookup_elem,
 *     bpf_get_prandom_u32 and bpf_xdp_adjust_head.
 *
 * One behaviour differs by design between host and device: new TCP connections (SYN)
 * are sampled 1 in 8 into a counter with bpf_get_prandom_u32(), whose sequence on the
 * NIC comes from the microengine's own generator. `bpfdbg triage` explains that class.
 *
 *   1. VIP lookup:      vips (hash) {vip addr, port, proto} -> {vip id, backend count}
 *   2. backend choice:  client_pinning (hash) {client addr} -> slot wins when in range;
 *                       otherwise fast_range(hash(5-tuple), backend count)
 *                       backends (hash) {vip id, slot} -> backend address
 *   3. forwarding:      inner TTL decremented (RFC 1624 update), bpf_xdp_adjust_head()
 *                       makes room for the outer header, MACs rewritten towards the
 *                       gateway from lb_config; XDP_TX.
 *
 * Maps:    vips, backends, client_pinning (hash), lb_config, lb_stats (array)
 * Helpers: bpf_map_lookup_elem, bpf_get_prandom_u32, bpf_xdp_adjust_head
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
#define TCP_SYN_ONLY 0x02

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

struct lb_config {
	__be32 self_addr;        /* the outer header's source */
	__u8   gateway_mac[6];   /* the next hop for encapsulated packets */
	__u8   pad[2];
};

enum lb_stat {
	ST_RX_VIP,      /* packets to a VIP, balanced */
	ST_PINNED,      /* of those, backend chosen by client_pinning */
	ST_NOT_VIP,     /* passed: not for us */
	ST_NO_BACKEND,  /* dropped: VIP has no backend */
	ST_TTL_EXPIRED, /* dropped */
	ST_MALFORMED,   /* dropped */
	ST_ERROR,       /* dropped: adjust_head or lookup failure */
	ST_SYN_SAMPLED, /* new TCP connections sampled 1 in 8 */
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
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __be32);   /* client address */
	__type(value, __u32);  /* backend slot */
} client_pinning SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_config);
} lb_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ST_MAX);
	__type(key, __u32);
	__type(value, struct lb_counter);
} lb_stats SEC(".maps");

static __always_inline void bump_stat(enum lb_stat stat, __u64 bytes)
{
	__u32 key = stat;
	struct lb_counter *c = bpf_map_lookup_elem(&lb_stats, &key);

	if (c) { /* shared by every thread of every microengine: atomic adds */
		__sync_fetch_and_add(&c->packets, 1);
		__sync_fetch_and_add(&c->bytes, bytes);
	}
}

static __always_inline int stat_and_return(enum lb_stat stat, __u64 bytes, int action)
{
	bump_stat(stat, bytes);
	return action;
}

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* RFC 1624, eqn. 3: HC' = ~(~HC + ~old + new), on the words as stored. */
static __always_inline void csum_replace16(__sum16 *check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~*check;

	sum += (__u16)~old;
	sum += new;
	*check = csum_fold(sum);
}

/* The MurmurHash3 finaliser: every input bit affects every output bit. */
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

/* hash * n / 2^32: a uniform slot in [0, n) without a division. */
static __always_inline __u32 fast_range(__u32 hash, __u32 n)
{
	return (__u32)(((__u64)hash * n) >> 32);
}

SEC("xdp")
int xdp_lb_offload(struct xdp_md *ctx)
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
	struct lb_config *cfg;
	__u32 *pinned_slot;
	__u16 *ports; /* [0] source port, [1] destination port (TCP and UDP agree) */
	__u32 hdr_len, zero = 0, client;
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

	/* New TCP connections: sample 1 in 8 for the operator's dashboards. */
	if (iph->protocol == IPPROTO_TCP && (void *)ports + 14 <= data_end &&
	    (*((__u8 *)ports + 13) & 0x3f) == TCP_SYN_ONLY && (bpf_get_prandom_u32() & 7) == 0)
		bump_stat(ST_SYN_SAMPLED, bytes);

	/* 2. Pick a backend slot: a pinned client first, then the flow hash. */
	client = iph->saddr;
	pinned_slot = bpf_map_lookup_elem(&client_pinning, &client);
	bkey.vip_id = vip->id;
	if (pinned_slot && *pinned_slot < vip->n_backends) {
		bkey.slot = *pinned_slot;
		bump_stat(ST_PINNED, bytes);
	} else {
		bkey.slot = fast_range(flow_hash(iph->saddr, iph->daddr, ports[0], ports[1], iph->protocol),
				       vip->n_backends);
	}
	be = bpf_map_lookup_elem(&backends, &bkey);
	if (!be)
		return stat_and_return(ST_ERROR, bytes, XDP_DROP);
	cfg = bpf_map_lookup_elem(&lb_config, &zero);
	if (!cfg)
		return stat_and_return(ST_ERROR, bytes, XDP_DROP);

	/* 3a. Route the inner packet: decrement its TTL, patching the checksum. */
	if (iph->ttl <= 1)
		return stat_and_return(ST_TTL_EXPIRED, bytes, XDP_DROP);
	old_ttl_word = *(__u16 *)&iph->ttl;
	iph->ttl--;
	csum_replace16(&iph->check, old_ttl_word, *(__u16 *)&iph->ttl);

	inner_len = bpf_ntohs(iph->tot_len);
	inner_tos = iph->tos;

	/* 3b. Grow the packet at the front by one IPv4 header; reload the pointers. */
	if (bpf_xdp_adjust_head(ctx, 0 - (int)sizeof(struct iphdr)))
		return stat_and_return(ST_ERROR, bytes, XDP_DROP);

	data_end = (void *)(long)ctx->data_end;
	data = (void *)(long)ctx->data;
	{
		struct ethhdr *new_eth = data;
		struct ethhdr *old_eth = data + sizeof(struct iphdr);
		struct iphdr *outer = (void *)(new_eth + 1);
		__u16 *w;
		__u32 sum = 0;
		int i;

		if ((void *)(outer + 1) > data_end)
			return stat_and_return(ST_ERROR, bytes, XDP_DROP);

#pragma unroll
		for (i = 0; i < ETH_ALEN; i++) {
			new_eth->h_source[i] = old_eth->h_dest[i];
			new_eth->h_dest[i] = cfg->gateway_mac[i];
		}
		new_eth->h_proto = bpf_htons(ETH_P_IP);

		/* The outer header is written in place, then checksummed word by word. */
		outer->version = 4;
		outer->ihl = 5;
		outer->tos = inner_tos;
		outer->tot_len = bpf_htons(inner_len + sizeof(struct iphdr));
		outer->id = 0;
		outer->frag_off = bpf_htons(IP_DF);
		outer->ttl = 64;
		outer->protocol = IPPROTO_IPIP;
		outer->check = 0;
		outer->saddr = cfg->self_addr;
		outer->daddr = be->addr;
		w = (__u16 *)outer;
#pragma unroll
		for (i = 0; i < (int)(sizeof(*outer) / 2); i++)
			sum += w[i];
		outer->check = csum_fold(sum);
	}
	return stat_and_return(ST_RX_VIP, bytes, XDP_TX);
}

char LICENSE[] SEC("license") = "GPL";
