package bitmap

import (
	"fmt"
	"strings"
)

// MaxSegments is the largest number of segments a Catalog holds: ids are
// 0..MaxSegments-1, so a user's membership fits in two 64-bit words.
const MaxSegments = 128

// A Catalog is the immutable mapping between segment names and ids, built
// once from configuration. Ids are the positions of the names given to
// NewCatalog. It is safe for concurrent use.
type Catalog struct {
	names []string
	ids   map[string]int
}

// NewCatalog returns the catalog of names, in which names[i] has id i. Names
// are non-empty, made of a-z, 0-9 and _, unique, not an expression keyword
// (and, or, not), and at most MaxSegments of them.
func NewCatalog(names []string) (*Catalog, error) {
	c := &Catalog{
		names: make([]string, len(names)),
		ids:   make(map[string]int, len(names)),
	}
	for i, name := range names {
		if i >= MaxSegments {
			return nil, fmt.Errorf("bitmap: segment %q: too many segments (%d, at most %d)", name, len(names), MaxSegments)
		}
		if name == "" {
			return nil, fmt.Errorf("bitmap: segment %d: empty name", i)
		}
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("bitmap: %w", err)
		}
		if j, dup := c.ids[name]; dup {
			return nil, fmt.Errorf("bitmap: segment %q: duplicate (ids %d and %d)", name, j, i)
		}
		c.names[i] = strings.Clone(name)
		c.ids[c.names[i]] = i
	}
	return c, nil
}

// checkName reports why name cannot be a segment name.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("empty segment name")
	}
	for i := 0; i < len(name); i++ {
		if !isNameByte(name[i]) {
			return fmt.Errorf("segment %q: invalid character %q at byte %d (names are a-z, 0-9 and _)", name, firstRune(name[i:]), i)
		}
	}
	if keywordOf(name) != tokName {
		return fmt.Errorf("segment %q: reserved word (an expression keyword)", name)
	}
	return nil
}

func isNameByte(b byte) bool {
	return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '_'
}

// ID returns the id of the named segment.
func (c *Catalog) ID(name string) (int, bool) {
	id, ok := c.ids[name]
	return id, ok
}

// Name returns the name of segment id, or "" if there is no such segment.
func (c *Catalog) Name(id int) string {
	if id < 0 || id >= len(c.names) {
		return ""
	}
	return c.names[id]
}

// Len returns the number of segments.
func (c *Catalog) Len() int { return len(c.names) }

// Names returns the segment names in id order. The caller owns the slice.
func (c *Catalog) Names() []string { return append([]string(nil), c.names...) }
