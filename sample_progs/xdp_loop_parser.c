// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_loop_parser.c - loops in XDP: IPv6 extension headers and TCP options.
 *
 * Header chains of unknown length need loops, and the verifier must be able to prove
 * that every loop ends. This program shows the two ways to write one:
 *
 *   1. bpf_loop(nr, callback, ctx, 0): the helper calls `callback(i, ctx)` up to nr
 *      times; a non-zero return stops early. The verifier does not walk nr iterations:
 *      it checks the callback until the states it sees stop changing. Used here to walk the IPv6 extension header chain (hop-by-hop,
 *      routing, fragment, destination options, AH) to the upper-layer header.
 *   2. a plain `for` loop with a constant bound, which the verifier follows iteration by
 *      iteration (kernel 5.3+). Used here to walk TCP options (up to 40 bytes), after
 *      copying them to the stack with bpf_xdp_load_bytes (see check_tcp_options for
 *      why).
 *
 * Policy (a router protecting hosts behind it):
 *   - IPv6 with a type-0 routing header (deprecated by RFC 5095)          -> XDP_DROP
 *   - IPv6 with more than MAX_EXT_HDRS extension headers                  -> XDP_DROP
 *   - a TCP SYN advertising an MSS below 536 (the "SACK panic" trick)     -> XDP_DROP
 *   - malformed TCP options (length < 2 or running past the header),
 *     headers cut short                                                   -> XDP_DROP
 *   - everything else (including non-first fragments, ICMP, UDP, ARP)     -> XDP_PASS
 *
 * Maps:    parse_stats (array): extension headers seen by type, drops by reason
 *          tcp_opt_kinds (array): TCP options seen, by option kind
 * Helpers: bpf_loop, bpf_xdp_load_bytes, bpf_map_lookup_elem
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_EXT_HDRS  6
#define MAX_L4_OFF    512 /* give up on anything deeper (the verifier needs a bound) */
#define MAX_OPT_BYTES 40  /* TCP options: 60-byte header - 20 fixed bytes */
#define MIN_MSS       536

/* IPv6 next-header values of extension headers (IPPROTO_* in <linux/in6.h>). */
#define NH_HOPOPTS  0
#define NH_ROUTING  43
#define NH_FRAGMENT 44
#define NH_AH       51
#define NH_DSTOPTS  60

/* TCP option kinds. */
#define TCPOPT_EOL       0
#define TCPOPT_NOP       1
#define TCPOPT_MSS       2

#define TH_SYN 0x02
#define TH_ACK 0x10

enum parse_stat {
	PS_HOPOPTS, PS_ROUTING, PS_FRAGMENT, PS_AH, PS_DSTOPTS,
	PS_DROP_RH0, PS_DROP_TOO_MANY, PS_DROP_LOW_MSS, PS_DROP_MALFORMED,
	PS_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PS_MAX);
	__type(key, __u32);
	__type(value, __u64);
} parse_stats SEC(".maps");

/* How often each TCP option kind (0..255) was seen. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} tcp_opt_kinds SEC(".maps");

static __always_inline void bump_opt_kind(__u32 kind)
{
	__u64 *v = bpf_map_lookup_elem(&tcp_opt_kinds, &kind);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline void bump(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&parse_stats, &stat);

	if (v)
		__sync_fetch_and_add(v, 1);
}

/* Generic shape of every extension header we walk: next header, then length. */
struct ext_hdr {
	__u8 nexthdr;
	__u8 hdrlen;
	__u8 type;          /* routing header: routing type */
	__u8 segments_left; /* routing header */
};

struct frag_hdr {
	__u8   nexthdr;
	__u8   reserved;
	__be16 frag_off; /* offset (13 bits) | 2 reserved bits | M flag */
	__be32 id;
};

enum walk_result {
	WALK_MORE = 0,   /* still in the extension header chain */
	WALK_DONE,       /* reached the upper-layer header */
	WALK_NOT_FIRST,  /* a non-first fragment: no upper-layer header here */
	WALK_RH0,
	WALK_MALFORMED,
};

/* The state bpf_loop passes to each call of the callback. */
struct ext_walk {
	struct xdp_md *ctx;
	__u32 off;     /* offset from ctx->data of the header to look at */
	__u32 count;   /* extension headers seen */
	__u8  nexthdr; /* type of the header at off */
	__u8  result;  /* enum walk_result */
};

/* One step of the extension header walk. Returns 0 to continue, 1 to stop. */
static long ext_hdr_step(__u32 index, struct ext_walk *w)
{
	void *data_end = (void *)(long)w->ctx->data_end;
	void *data = (void *)(long)w->ctx->data;
	__u32 off = w->off;
	struct ext_hdr *h;
	__u32 len;

	if (w->nexthdr != NH_HOPOPTS && w->nexthdr != NH_ROUTING && w->nexthdr != NH_FRAGMENT &&
	    w->nexthdr != NH_AH && w->nexthdr != NH_DSTOPTS) {
		w->result = WALK_DONE;
		return 1;
	}
	if (off > MAX_L4_OFF) {
		w->result = WALK_MALFORMED;
		return 1;
	}
	h = data + off;
	if ((void *)(h + 1) > data_end) {
		w->result = WALK_MALFORMED;
		return 1;
	}

	switch (w->nexthdr) {
	case NH_HOPOPTS:
		bump(PS_HOPOPTS);
		len = (h->hdrlen + 1) * 8;
		break;
	case NH_DSTOPTS:
		bump(PS_DSTOPTS);
		len = (h->hdrlen + 1) * 8;
		break;
	case NH_ROUTING:
		bump(PS_ROUTING);
		if (h->type == 0) {
			w->result = WALK_RH0;
			return 1;
		}
		len = (h->hdrlen + 1) * 8;
		break;
	case NH_FRAGMENT: {
		struct frag_hdr *fh = (void *)h;

		bump(PS_FRAGMENT);
		if ((void *)(fh + 1) > data_end) {
			w->result = WALK_MALFORMED;
			return 1;
		}
		if (bpf_ntohs(fh->frag_off) & 0xfff8) {
			w->result = WALK_NOT_FIRST;
			return 1;
		}
		len = sizeof(*fh);
		break;
	}
	default: /* NH_AH: its length is in 4-byte units, minus 2 */
		bump(PS_AH);
		len = (h->hdrlen + 2) * 4;
		break;
	}

	w->nexthdr = h->nexthdr;
	w->off = off + len;
	w->count++;
	return 0;
}

/* Walk TCP options with a bounded for loop. Returns an XDP action.
 *
 * The verifier follows such a loop one iteration at a time. It can cut a path short only
 * when the state at the top of the loop is covered by one it has already explored, and
 * for values that decide safety (addresses, sizes) "covered" means within the earlier
 * range. So the options are first copied into a stack buffer (bpf_xdp_load_bytes), and
 * the loop addresses that buffer with the loop counter `i` only, which is the same on
 * every path through an iteration. Where the next option starts (`next`) depends on the
 * data, but it is only compared, never used as an address, so its many possible values
 * do not multiply the states. Likewise the SYN test waits until after the loop.
 * (The first version walked the packet with a pointer advanced by each option's length:
 * the verifier then tried every combination of lengths and hit its limit of 1M
 * instructions. This one takes about 63k.) */
static __always_inline int check_tcp_options(struct xdp_md *ctx, void *data, void *data_end,
					     __u32 tcp_off)
{
	__u8 opts[MAX_OPT_BYTES + 4] = {}; /* +4: an MSS option at the very end reads 4 bytes */
	struct tcphdr *th;
	__u32 opt_len, next = 0;
	__u32 mss = 0xffffffff; /* none seen */
	__u8 flags;
	int i;

	if (tcp_off > MAX_L4_OFF)
		return XDP_PASS;
	th = data + tcp_off;
	if ((void *)(th + 1) > data_end)
		goto malformed;
	if (th->doff < 5)
		goto malformed;
	flags = ((__u8 *)th)[13];
	opt_len = th->doff * 4 - sizeof(*th); /* 0 .. 40 */
	if (opt_len == 0)
		return XDP_PASS;
	if (opt_len > MAX_OPT_BYTES) /* cannot happen: doff <= 15; tells the verifier */
		goto malformed;
	if (bpf_xdp_load_bytes(ctx, tcp_off + sizeof(*th), opts, opt_len))
		goto malformed; /* the header claims more options than the packet holds */

	for (i = 0; i < MAX_OPT_BYTES; i++) {
		__u8 kind, len;

		if (i >= opt_len)
			break;
		if (i != next)
			continue; /* inside the option that started at an earlier byte */
		kind = opts[i];
		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			next = i + 1;
			continue;
		}
		if (i + 1 >= opt_len)
			goto malformed; /* no room for the length byte */
		len = opts[i + 1];
		if (len < 2 || i + len > opt_len)
			goto malformed;
		bump_opt_kind(kind);
		if (kind == TCPOPT_MSS) {
			if (len != 4)
				goto malformed;
			mss = (opts[i + 2] << 8) | opts[i + 3];
		}
		next = i + len;
	}

	/* Decided after the loop, not inside it: a branch on the flags inside the loop
	 * would split the verifier's walk of every later iteration in two. */
	if ((flags & (TH_SYN | TH_ACK)) == TH_SYN && mss < MIN_MSS) {
		bump(PS_DROP_LOW_MSS);
		return XDP_DROP;
	}
	return XDP_PASS;

malformed:
	bump(PS_DROP_MALFORMED);
	return XDP_DROP;
}

SEC("xdp")
int xdp_loop_parser(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	__u32 l4_off;
	__u8 l4_proto;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;

	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);
		struct ext_walk w = {};

		if ((void *)(ip6h + 1) > data_end) {
			bump(PS_DROP_MALFORMED);
			return XDP_DROP;
		}
		w.ctx = ctx;
		w.off = sizeof(*eth) + sizeof(*ip6h);
		w.nexthdr = ip6h->nexthdr;
		w.result = WALK_MORE;

		/* One more round than headers allowed: the last one finds the upper layer. */
		bpf_loop(MAX_EXT_HDRS + 1, ext_hdr_step, &w, 0);

		switch (w.result) {
		case WALK_DONE:
			break;
		case WALK_NOT_FIRST:
			return XDP_PASS;
		case WALK_RH0:
			bump(PS_DROP_RH0);
			return XDP_DROP;
		case WALK_MORE: /* the loop ran out: too many extension headers */
			bump(PS_DROP_TOO_MANY);
			return XDP_DROP;
		default:
			bump(PS_DROP_MALFORMED);
			return XDP_DROP;
		}
		l4_off = w.off;
		l4_proto = w.nexthdr;
	} else if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end || iph->ihl < 5) {
			bump(PS_DROP_MALFORMED);
			return XDP_DROP;
		}
		if (iph->frag_off & bpf_htons(0x1fff))
			return XDP_PASS; /* non-first fragment */
		l4_off = sizeof(*eth) + iph->ihl * 4;
		l4_proto = iph->protocol;
	} else {
		return XDP_PASS;
	}

	if (l4_proto != IPPROTO_TCP)
		return XDP_PASS;
	return check_tcp_options(ctx, data, data_end, l4_off);
}

char LICENSE[] SEC("license") = "GPL";
