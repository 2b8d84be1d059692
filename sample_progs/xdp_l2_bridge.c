// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_l2_bridge.c - a learning Ethernet switch in XDP, forwarding with a devmap.
 *
 * Each port of the switch is an interface running this program. For every frame it
 *
 *   1. learns: the source MAC was seen on the ingress port (mac_table, an LRU hash, so
 *      stations that fall silent are evicted when the table fills up);
 *   2. forwards: looks the destination MAC up; a known unicast destination on another
 *      port is sent there with bpf_redirect_map() through the tx_ports devmap (XDP_REDIRECT);
 *      a destination on the same port is filtered (XDP_DROP, the frame already reached
 *      its segment); unknown, broadcast and multicast destinations go to the kernel
 *      (XDP_PASS) so the normal bridge floods them.
 *
 * Ports are numbered by ifindex: tx_ports[i] holds the device to transmit on for port i
 * (usually ifindex i itself). If the devmap slot is empty bpf_redirect_map() returns its
 * flags argument, here XDP_PASS. Static entries (e.g. a router's MAC pinned to a port)
 * can be put into mac_table by the control plane with `static_entry = 1`; learning
 * never overwrites them. Frames from a source MAC that is a multicast address are
 * invalid and dropped.
 *
 * Maps:    mac_table (lru_hash: MAC -> port), tx_ports (devmap), bridge_stats (percpu_array)
 * Helpers: bpf_map_lookup_elem, bpf_map_update_elem, bpf_redirect_map
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_PORTS 64

struct mac_key {
	__u8 addr[ETH_ALEN];
	__u16 pad; /* keep the key 8 bytes and its padding zero */
};

struct mac_entry {
	__u32 port;        /* ifindex of the port the address lives behind */
	__u32 static_entry; /* set by the control plane; learning leaves these alone */
};

enum bridge_stat {
	BS_LEARNED,   /* new or moved station */
	BS_FORWARDED, /* redirected to another port */
	BS_FILTERED,  /* destination on the ingress port */
	BS_FLOODED,   /* unknown / broadcast / multicast: passed to the stack */
	BS_INVALID,   /* multicast source address */
	BS_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct mac_key);
	__type(value, struct mac_entry);
} mac_table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, MAX_PORTS);
	__type(key, __u32);
	__type(value, __u32); /* ifindex to transmit on */
} tx_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BS_MAX);
	__type(key, __u32);
	__type(value, __u64);
} bridge_stats SEC(".maps");

static __always_inline void bump(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&bridge_stats, &stat);

	if (v)
		*v += 1;
}

static __always_inline int is_multicast(const __u8 *mac)
{
	return mac[0] & 1; /* the I/G bit; broadcast ff:ff:... is multicast too */
}

SEC("xdp")
int xdp_bridge(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	__u32 in_port = ctx->ingress_ifindex;
	struct mac_key src = {}, dst = {};
	struct mac_entry *e;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(src.addr, eth->h_source, ETH_ALEN);
	__builtin_memcpy(dst.addr, eth->h_dest, ETH_ALEN);

	if (is_multicast(src.addr)) {
		bump(BS_INVALID);
		return XDP_DROP;
	}

	/* 1. Learn. */
	e = bpf_map_lookup_elem(&mac_table, &src);
	if (!e || (!e->static_entry && e->port != in_port)) {
		struct mac_entry learned = { .port = in_port, .static_entry = 0 };

		bpf_map_update_elem(&mac_table, &src, &learned, BPF_ANY);
		bump(BS_LEARNED);
	}

	/* 2. Forward. */
	if (is_multicast(dst.addr)) {
		bump(BS_FLOODED);
		return XDP_PASS;
	}
	e = bpf_map_lookup_elem(&mac_table, &dst);
	if (!e) {
		bump(BS_FLOODED);
		return XDP_PASS;
	}
	if (e->port == in_port) {
		bump(BS_FILTERED);
		return XDP_DROP;
	}
	bump(BS_FORWARDED);
	/* Low bits of the flags: the action to return if tx_ports[port] is empty. */
	return bpf_redirect_map(&tx_ports, e->port, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
