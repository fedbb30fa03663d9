package handlers

import (
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// clientIPFunc returns how a request's client address is found. Only a
// connection from a trusted proxy may name another address, in
// X-Forwarded-For; otherwise anyone could pick the address their requests
// are counted against. Each trusted proxy appends the address it saw, so
// the list is read from the right and the first address that is not a
// trusted proxy is the client.
func clientIPFunc(trusted []netip.Prefix) func(c *fiber.Ctx) string {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	return func(c *fiber.Ctx) string {
		peer, ok := netip.AddrFromSlice(c.Context().RemoteIP())
		peer = peer.Unmap()
		if !ok || !isTrusted(peer) {
			return peer.String()
		}
		var hops []string
		for _, v := range c.Request().Header.PeekAll(fiber.HeaderXForwardedFor) {
			hops = append(hops, strings.Split(string(v), ",")...)
		}
		client := peer
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				// A hop that is not an address was not written by a
				// proxy we trust; the last good one is the client.
				break
			}
			client = a.Unmap()
			if !isTrusted(client) {
				break
			}
		}
		return client.String()
	}
}

// ParseTrustedProxies reads a comma-separated list of addresses and CIDR
// prefixes, such as "10.0.0.0/8, 127.0.0.1".
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, err
			}
			prefixes = append(prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, err
		}
		prefixes = append(prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return prefixes, nil
}
