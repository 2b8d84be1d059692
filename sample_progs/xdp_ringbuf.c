// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_ringbuf.c - report interesting packets to user space through a ring buffer.
 *
 * A connection monitor: every TCP connection attempt (SYN without ACK) and every reset
 * (RST) over IPv4 becomes a `struct conn_event` in the `events` ring buffer, and every
 * ICMP error (destination unreachable, time exceeded) becomes a smaller
 * `struct icmp_event`. User space reads them with ring_buffer__poll().
 *
 * Two ways to produce a record:
 *   - bpf_ringbuf_reserve() hands out space inside the ring; the program fills it in
 *     place and then either bpf_ringbuf_submit()s it or bpf_ringbuf_discard()s it. The
 *     verifier insists that every reservation is released on every path. Here a TCP
 *     record is reserved before we know whether the packet is interesting (to show
 *     both endings); ordinary data segments are discarded.
 *   - bpf_ringbuf_output() copies a record built on the stack (used for ICMP).
 *
 * Every packet is passed (XDP_PASS); the program only observes. Counters of what
 * happened are kept in rb_stats, including reservations that failed because the ring
 * was full.
 *
 * Maps:    events (ringbuf, 64 KiB), rb_stats (array)
 * Helpers: bpf_ringbuf_reserve, bpf_ringbuf_submit, bpf_ringbuf_discard,
 *          bpf_ringbuf_output, bpf_ktime_get_ns, bpf_map_lookup_elem
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* <linux/icmp.h> drags in glibc headers that do not build for -target bpf, so the
 * few ICMP definitions needed are spelled out here. */
struct icmphdr {
	__u8   type;
	__u8   code;
	__sum16 checksum;
	__be32 rest; /* echo id/sequence, unused, next-hop MTU, ... depending on type */
};
#define ICMP_DEST_UNREACH  3
#define ICMP_TIME_EXCEEDED 11

enum event_kind {
	EV_TCP_SYN = 1,
	EV_TCP_RST = 2,
	EV_ICMP_ERROR = 3,
};

struct conn_event {
	__u64  ts_ns;    /* bpf_ktime_get_ns() */
	__u32  kind;     /* enum event_kind */
	__u32  ifindex;  /* ctx->ingress_ifindex */
	__u32  rx_queue; /* ctx->rx_queue_index */
	__u32  pkt_len;
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8   tcp_flags;
	__u8   ttl;
	__u16  pad;
};

struct icmp_event {
	__u32  kind;
	__u8   type;
	__u8   code;
	__u16  pad;
	__be32 saddr; /* who reported the error */
	__be32 orig_daddr; /* destination of the packet that caused it, 0 if not included */
};

enum rb_stat {
	RB_RESERVED,
	RB_SUBMITTED,
	RB_DISCARDED,
	RB_OUTPUT,
	RB_FULL, /* reserve returned NULL or output failed */
	RB_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024); /* bytes; a power of two and a multiple of the page size */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RB_MAX);
	__type(key, __u32);
	__type(value, __u64);
} rb_stats SEC(".maps");

static __always_inline void bump(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&rb_stats, &stat);

	if (v)
		__sync_fetch_and_add(v, 1);
}

#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

static __always_inline void report_tcp(struct xdp_md *ctx, struct iphdr *iph, struct tcphdr *th,
				       __u32 pkt_len)
{
	__u8 flags = ((__u8 *)th)[13];
	struct conn_event *ev;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		bump(RB_FULL);
		return;
	}
	bump(RB_RESERVED);

	if ((flags & (TH_SYN | TH_ACK)) == TH_SYN)
		ev->kind = EV_TCP_SYN;
	else if (flags & TH_RST)
		ev->kind = EV_TCP_RST;
	else {
		/* Not interesting after all: give the space back. */
		bpf_ringbuf_discard(ev, 0);
		bump(RB_DISCARDED);
		return;
	}
	ev->ts_ns = bpf_ktime_get_ns();
	ev->ifindex = ctx->ingress_ifindex;
	ev->rx_queue = ctx->rx_queue_index;
	ev->pkt_len = pkt_len;
	ev->saddr = iph->saddr;
	ev->daddr = iph->daddr;
	ev->sport = th->source;
	ev->dport = th->dest;
	ev->tcp_flags = flags;
	ev->ttl = iph->ttl;
	ev->pad = 0;
	bpf_ringbuf_submit(ev, 0);
	bump(RB_SUBMITTED);
}

SEC("xdp")
int xdp_conn_events(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	void *l4;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end || iph->ihl < 5)
		return XDP_PASS;
	l4 = (void *)iph + iph->ihl * 4;

	if (iph->protocol == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) <= data_end)
			report_tcp(ctx, iph, th, data_end - data);
	} else if (iph->protocol == IPPROTO_ICMP) {
		struct icmphdr *icmp = l4;
		struct icmp_event ev = {};

		if ((void *)(icmp + 1) > data_end)
			return XDP_PASS;
		if (icmp->type != ICMP_DEST_UNREACH && icmp->type != ICMP_TIME_EXCEEDED)
			return XDP_PASS;
		ev.kind = EV_ICMP_ERROR;
		ev.type = icmp->type;
		ev.code = icmp->code;
		ev.saddr = iph->saddr;
		/* ICMP errors quote the offending IPv4 header right after the ICMP header. */
		{
			struct iphdr *orig = (void *)(icmp + 1);

			if ((void *)(orig + 1) <= data_end)
				ev.orig_daddr = orig->daddr;
		}
		if (bpf_ringbuf_output(&events, &ev, sizeof(ev), 0))
			bump(RB_FULL);
		else
			bump(RB_OUTPUT);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
