// SPDX-License-Identifier: GPL-2.0
/*
 * tc_classifier.c - a TC (sched_cls) egress classifier for a simple QoS setup.
 *
 * Attached with `tc filter add dev eth0 egress bpf direct-action obj tc_classifier.o
 * sec tc`, it sorts packets into three HTB classes and tells the rest of the stack
 * about its decision through __sk_buff fields:
 *
 *   1:10 interactive   SSH (TCP 22) and DNS (UDP/TCP 53); DSCP rewritten to EF (46)
 *   1:20 default       everything else
 *   1:30 bulk          IP packets longer than 1000 bytes that are not interactive
 *
 * For each IP packet it writes skb->tc_classid (the class), skb->priority (the qdisc
 * band), skb->mark (MARK_CLASSIFIED | class minor) and skb->cb[0..2] (class minor, packet
 * length and device ifindex, for a later TC program). A packet whose mark already carries
 * MARK_CLASSIFIED is left alone (TC_ACT_PIPE: on to the next filter). VLAN-tagged frames
 * take their priority from the tag's PCP bits. Non-IP frames return TC_ACT_UNSPEC (use the
 * qdisc's default). Broken IPv4 headers and TTL 0 are dropped with TC_ACT_SHOT.
 *
 * Fields read:    len, protocol, ifindex, mark, data, data_end
 * Fields written: mark, priority, tc_classid, cb[0], cb[1], cb[2]
 * Maps:    class_stats (hash: class id -> counters, created on first use)
 * Helpers: bpf_map_lookup_elem, bpf_map_update_elem, bpf_skb_store_bytes,
 *          bpf_l3_csum_replace
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <stddef.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MARK_CLASSIFIED 0x80000000u

#define CLASS_MAJOR       1
#define CLASS_INTERACTIVE 0x10
#define CLASS_DEFAULT     0x20
#define CLASS_BULK        0x30

/* skb->priority values as the pfifo_fast/prio qdiscs understand them (TC_PRIO_*). */
#define PRIO_BULK        2
#define PRIO_BESTEFFORT  0
#define PRIO_INTERACTIVE 6

#define DSCP_EF 46
#define BULK_THRESHOLD 1000

struct vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

struct class_counter {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32); /* tc_classid */
	__type(value, struct class_counter);
} class_stats SEC(".maps");

static __always_inline void account(__u32 classid, __u32 len)
{
	struct class_counter *c = bpf_map_lookup_elem(&class_stats, &classid);

	if (!c) {
		/* First packet of this class: create the entry. BPF_NOEXIST makes a race
		 * with another CPU harmless (one of the two inserts fails, then we look
		 * the entry up again). */
		struct class_counter zero = {};

		bpf_map_update_elem(&class_stats, &classid, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&class_stats, &classid);
		if (!c)
			return;
	}
	__sync_fetch_and_add(&c->packets, 1);
	__sync_fetch_and_add(&c->bytes, len);
}

/* Rewrite the DSCP bits of the IPv4 TOS byte, keeping ECN, and fix the header checksum.
 * bpf_skb_store_bytes may move the packet, so callers must reload data/data_end. */
static __always_inline int set_ipv4_dscp(struct __sk_buff *skb, __u32 ip_off, __u8 old_tos,
					 __u8 dscp)
{
	__u8 new_tos = (dscp << 2) | (old_tos & 0x3);

	if (new_tos == old_tos)
		return 0;
	/* The checksum helper works on 16-bit words: tos is the low byte of the word
	 * that starts with version/ihl, so pass both bytes as stored (htons of tos). */
	if (bpf_l3_csum_replace(skb, ip_off + offsetof(struct iphdr, check), bpf_htons(old_tos),
				bpf_htons(new_tos), 2))
		return -1;
	return bpf_skb_store_bytes(skb, ip_off + offsetof(struct iphdr, tos), &new_tos, 1, 0);
}

static __always_inline int finish(struct __sk_buff *skb, __u32 minor, __u32 prio)
{
	__u32 classid = TC_H_MAKE(CLASS_MAJOR << 16, minor);

	skb->tc_classid = classid;
	skb->priority = prio;
	skb->mark = MARK_CLASSIFIED | minor;
	skb->cb[0] = minor;
	skb->cb[1] = skb->len;
	skb->cb[2] = skb->ifindex; /* the device we run on */
	account(classid, skb->len);
	return TC_ACT_OK;
}

SEC("tc")
int tc_classify(struct __sk_buff *skb)
{
	void *data_end = (void *)(long)skb->data_end;
	void *data = (void *)(long)skb->data;
	struct ethhdr *eth = data;
	__u32 ip_off = sizeof(struct ethhdr);
	__be16 proto = skb->protocol; /* set by the stack from the ethertype */
	__u32 vlan_prio = 0;
	__u8 l4_proto;
	void *l4;

	if (skb->mark & MARK_CLASSIFIED)
		return TC_ACT_PIPE; /* someone (maybe us, on another device) already decided */

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_SHOT;

	/* An in-band 802.1Q tag (not offloaded to skb->vlan_tci): use its priority. */
	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vh = (void *)(eth + 1);

		if ((void *)(vh + 1) > data_end)
			return TC_ACT_SHOT;
		vlan_prio = bpf_ntohs(vh->tci) >> 13;
		proto = vh->encapsulated_proto;
		ip_off += sizeof(struct vlan_hdr);
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = data + ip_off;
		__u32 hdr_len;

		if ((void *)(iph + 1) > data_end)
			return TC_ACT_SHOT;
		hdr_len = iph->ihl * 4;
		if (hdr_len < sizeof(*iph) || iph->ttl == 0)
			return TC_ACT_SHOT;
		l4_proto = iph->protocol;
		l4 = (void *)iph + hdr_len;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = data + ip_off;

		if ((void *)(ip6h + 1) > data_end)
			return TC_ACT_SHOT;
		l4_proto = ip6h->nexthdr;
		l4 = ip6h + 1;
	} else {
		return TC_ACT_UNSPEC;
	}

	/* Interactive traffic: look at the destination port (TCP and UDP keep it at the
	 * same offset). A packet too short for ports simply is not interactive. */
	if (l4_proto == IPPROTO_TCP || l4_proto == IPPROTO_UDP) {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) <= data_end) {
			__u16 dport = bpf_ntohs(uh->dest);

			if ((dport == 22 && l4_proto == IPPROTO_TCP) || dport == 53) {
				if (proto == bpf_htons(ETH_P_IP)) {
					struct iphdr *iph = data + ip_off;

					if ((void *)(iph + 1) > data_end)
						return TC_ACT_SHOT;
					if (set_ipv4_dscp(skb, ip_off, iph->tos, DSCP_EF))
						return TC_ACT_SHOT;
				}
				return finish(skb, CLASS_INTERACTIVE, PRIO_INTERACTIVE);
			}
		}
	}

	if (skb->len > BULK_THRESHOLD)
		return finish(skb, CLASS_BULK, vlan_prio ? vlan_prio : PRIO_BULK);
	return finish(skb, CLASS_DEFAULT, vlan_prio ? vlan_prio : PRIO_BESTEFFORT);
}

char LICENSE[] SEC("license") = "GPL";
