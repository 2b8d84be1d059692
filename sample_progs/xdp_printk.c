// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_printk.c - printf debugging with bpf_printk.
 *
 * bpf_printk(fmt, args...) (a macro from <bpf/bpf_helpers.h>) writes one line to the
 * kernel trace buffer (/sys/kernel/tracing/trace_pipe), prefixed by the kernel with the
 * task, CPU, flags, timestamp and "bpf_trace_printk: ". With up to three arguments it
 * calls bpf_trace_printk(fmt, fmt_size, a1, a2, a3); with more it packs the arguments
 * into a u64 array on the stack and calls bpf_trace_vprintk(fmt, fmt_size, args,
 * args_size) (kernel 5.16+). The format string lives in .rodata.
 *
 * Conversions the kernel accepts: %d %i %u %x %X with the l/ll modifiers, %c, %%, %s
 * (copied from kernel or BPF memory), %pI4 / %pi4 / %pI6 / %pi6 (pointers to addresses),
 * %pK %px, and field width / zero padding. A conversion it does not support (%n, %f,
 * ...) makes the helper return -EINVAL and print nothing.
 *
 * For every frame this prints a summary line per layer it understands. It returns
 * XDP_PASS for everything except runts shorter than an Ethernet header plus 4 bytes
 * (XDP_DROP), and it drops IPv4 packets with TTL 0 after complaining about them.
 *
 * Helpers: bpf_trace_printk, bpf_trace_vprintk
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* A string in .rodata, printed with %s. */
static const char proto_names[4][8] = { "other", "tcp", "udp", "icmp" };

static __always_inline const char *proto_name(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return proto_names[1];
	case IPPROTO_UDP:
		return proto_names[2];
	case IPPROTO_ICMP:
		return proto_names[3];
	default:
		return proto_names[0];
	}
}

SEC("xdp")
int xdp_printk(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	__u32 len = data_end - data;
	__u64 dst_mac;
	__u16 proto;

	/* Three arguments: bpf_trace_printk. %u for unsigned values. */
	bpf_printk("frame len=%u ifindex=%u rxq=%u", len, ctx->ingress_ifindex,
		   ctx->rx_queue_index);

	if ((void *)(eth + 1) > data_end || len < sizeof(*eth) + 4) {
		/* %d with a negative value: how many bytes short of the minimum. */
		bpf_printk("runt frame: %d bytes over the minimum", (int)len - 18);
		return XDP_DROP;
	}

	/* %llx for a 64-bit value: the destination MAC as one number; %04x with padding. */
	dst_mac = ((__u64)eth->h_dest[0] << 40) | ((__u64)eth->h_dest[1] << 32) |
		  ((__u64)eth->h_dest[2] << 24) | ((__u64)eth->h_dest[3] << 16) |
		  ((__u64)eth->h_dest[4] << 8) | eth->h_dest[5];
	proto = bpf_ntohs(eth->h_proto);
	bpf_printk("eth dst=%012llx type=0x%04x", dst_mac, proto);

	if (proto == ETH_P_IP) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end) {
			bpf_printk("ipv4: truncated header (%u of %u bytes)",
				   len - (__u32)sizeof(*eth), (__u32)sizeof(*iph));
			return XDP_PASS;
		}
		/* %pI4 takes a pointer to the 4 address bytes; %s a string. Five
		 * arguments: bpf_trace_vprintk. */
		bpf_printk("ipv4 %pI4 -> %pI4 %s ttl=%d id=%x", &iph->saddr, &iph->daddr,
			   proto_name(iph->protocol), iph->ttl, bpf_ntohs(iph->id));
		if (iph->ttl == 0) {
			bpf_printk("ipv4: ttl 0, dropping (%c)", 'X');
			return XDP_DROP;
		}
		if (iph->protocol == IPPROTO_UDP && iph->ihl == 5) {
			struct udphdr *uh = (void *)(iph + 1);

			if ((void *)(uh + 1) <= data_end)
				bpf_printk("udp %u -> %u len %u", bpf_ntohs(uh->source),
					   bpf_ntohs(uh->dest), bpf_ntohs(uh->len));
		}
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end)
			return XDP_PASS;
		/* %pI6: a pointer to 16 address bytes. */
		bpf_printk("ipv6 %pI6 -> %pI6 nh=%u", &ip6h->saddr, &ip6h->daddr, ip6h->nexthdr);
	} else {
		bpf_printk("not ip: ethertype %x (%%x), %X (%%X)", proto, proto);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
