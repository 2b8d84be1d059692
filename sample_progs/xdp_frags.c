// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_frags.c - a multi-buffer ("frags") XDP program for jumbo frames.
 *
 * With an MTU above a page, a frame arrives as a linear part (ctx->data ..
 * ctx->data_end) plus fragments that direct packet access cannot reach. A program
 * declares that it copes with this by living in section "xdp.frags" (the loader then
 * sets BPF_F_XDP_HAS_FRAGS); it then measures the whole frame with
 * bpf_xdp_get_buff_len() and reads or writes any part of it with bpf_xdp_load_bytes() /
 * bpf_xdp_store_bytes(), which work across the linear part and the fragments alike.
 *
 * Policy: frames longer than MAX_FRAME (9018: a 9000-byte MTU plus Ethernet and a VLAN
 * tag) are dropped. An IPv4 UDP datagram whose payload starts with the 4-byte MAGIC ends
 * with a 4-byte trailer that must equal the IPv4 total length (big-endian): a corrupt
 * trailer drops the frame; a good one is overwritten with the MAGIC to mark the datagram
 * as checked (bpf_xdp_store_bytes), and the frame passes. The trailer is found from the
 * IP length, not the frame length, because short frames carry Ethernet padding.
 * Everything else passes.
 *
 * Headers are read with bpf_xdp_load_bytes into stack copies, so the same code works
 * whether or not they sit in the linear part.
 *
 * Maps:    frag_stats (percpu_array): frames, multi-buffer frames, bytes, drops
 * Helpers: bpf_xdp_get_buff_len, bpf_xdp_load_bytes, bpf_xdp_store_bytes,
 *          bpf_map_lookup_elem
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_FRAME 9018
#define MAGIC     0x4a554d42 /* "JUMB" */

struct frame_stats {
	__u64 frames;
	__u64 multi_buffer; /* frames that had fragments */
	__u64 bytes;
	__u64 dropped_oversize;
	__u64 dropped_trailer;
	__u64 checked;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct frame_stats);
} frag_stats SEC(".maps");

SEC("xdp.frags")
int xdp_jumbo(struct xdp_md *ctx)
{
	__u32 linear = ctx->data_end - ctx->data;
	__u64 total = bpf_xdp_get_buff_len(ctx);
	struct frame_stats *st;
	struct ethhdr eth;
	struct iphdr iph;
	__u32 zero = 0, magic, trailer, l4_off, ip_len, trailer_off;

	st = bpf_map_lookup_elem(&frag_stats, &zero);
	if (!st)
		return XDP_ABORTED; /* cannot happen: a one-entry array */
	st->frames++;
	st->bytes += total;
	if (total > linear)
		st->multi_buffer++;

	if (total > MAX_FRAME) {
		st->dropped_oversize++;
		return XDP_DROP;
	}

	/* Copy the headers out; this fails only if the frame is too short. */
	if (bpf_xdp_load_bytes(ctx, 0, &eth, sizeof(eth)))
		return XDP_PASS;
	if (eth.h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (bpf_xdp_load_bytes(ctx, sizeof(eth), &iph, sizeof(iph)))
		return XDP_PASS;
	if (iph.protocol != IPPROTO_UDP || iph.ihl < 5)
		return XDP_PASS;

	/* The payload's first 4 bytes, after the UDP header. */
	l4_off = sizeof(eth) + iph.ihl * 4;
	if (bpf_xdp_load_bytes(ctx, l4_off + sizeof(struct udphdr), &magic, sizeof(magic)))
		return XDP_PASS;
	if (magic != bpf_htonl(MAGIC))
		return XDP_PASS;

	/* The trailer: the last 4 bytes of the datagram, possibly in a fragment. */
	ip_len = bpf_ntohs(iph.tot_len);
	if (ip_len < iph.ihl * 4 + sizeof(struct udphdr) + 8)
		return XDP_PASS; /* no room for a trailer after the magic */
	trailer_off = sizeof(eth) + ip_len - 4;
	if (bpf_xdp_load_bytes(ctx, trailer_off, &trailer, sizeof(trailer)))
		return XDP_PASS; /* the IP length points past the end of the frame */
	if (bpf_ntohl(trailer) != ip_len) {
		st->dropped_trailer++;
		return XDP_DROP;
	}
	bpf_xdp_store_bytes(ctx, trailer_off, &magic, sizeof(magic));
	st->checked++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
