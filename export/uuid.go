package export

import (
	"crypto/sha1"
	"fmt"
)

// namespaceURL is the RFC 9562 namespace for names that are URLs.
var namespaceURL = [16]byte{
	0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
	0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
}

// nameUUID returns the name-based UUID (version 5, RFC 9562 section 5.5) of
// name in the URL namespace. The same name always gives the same UUID, so an
// export is reproducible and a record keeps its fullUrl from one export to
// the next. SHA-1 is what version 5 is defined with; nothing here is secret.
func nameUUID(name string) string {
	h := sha1.New()
	h.Write(namespaceURL[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
