package bitmap

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// An Expr is a boolean expression over segments: segment names combined
// with and, or, not (keywords in any case) and parentheses, not binding
// tighter than and, and tighter than or. "lapsed and not uninstalled and
// (email_subscribed or sms_subscribed)" is one.
//
// EvalMask needs the expression bound to the catalog that numbers the mask
// (Bind); Count and Members look names up in each registry's catalog. Once
// bound (or if never bound) an Expr is immutable and safe for concurrent use.
type Expr struct {
	root    *node
	names   []string // distinct, in order of first appearance
	catalog *Catalog // set by Bind
}

type opKind uint8

const (
	opName opKind = iota
	opNot
	opAnd
	opOr
)

type node struct {
	op   opKind
	pos  int     // byte offset of the name, "not", or the first operand
	name string  // opName
	id   int     // opName: catalog id after Bind, -1 before
	kids []*node // opNot: 1; opAnd, opOr: 2 or more, none of the same op
}

// An ExprError is a syntax error in an expression, or a name its catalog
// does not know.
type ExprError struct {
	Pos int    // byte offset in the source, 0-based
	Msg string // e.g. `expected a segment name, found ")"`
}

func (e *ExprError) Error() string {
	return fmt.Sprintf("expr: position %d: %s", e.Pos, e.Msg)
}

// maxExprDepth bounds the nesting of parentheses and "not"s.
const maxExprDepth = 64

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokName
	tokAnd
	tokOr
	tokNot
	tokLParen
	tokRParen
)

type token struct {
	kind tokKind
	pos  int
	text string
}

// describe renders a token for "found ..." in error messages.
func (t token) describe() string {
	if t.kind == tokEOF {
		return "end of input"
	}
	return fmt.Sprintf("%q", t.text)
}

// keywordOf returns the keyword kind of word (in any case), or tokName.
func keywordOf(word string) tokKind {
	switch {
	case strings.EqualFold(word, "and"):
		return tokAnd
	case strings.EqualFold(word, "or"):
		return tokOr
	case strings.EqualFold(word, "not"):
		return tokNot
	}
	return tokName
}

func firstRune(s string) string {
	_, n := utf8.DecodeRuneInString(s)
	return s[:n]
}

type parser struct {
	src   string
	off   int // next byte to scan
	tok   token
	depth int
	names []string
	seen  map[string]bool
}

// next scans the next token into p.tok.
func (p *parser) next() error {
	for p.off < len(p.src) {
		switch p.src[p.off] {
		case ' ', '\t', '\n', '\r':
			p.off++
			continue
		}
		break
	}
	start := p.off
	if start == len(p.src) {
		p.tok = token{kind: tokEOF, pos: start}
		return nil
	}
	switch c := p.src[start]; {
	case c == '(':
		p.off++
		p.tok = token{kind: tokLParen, pos: start, text: "("}
	case c == ')':
		p.off++
		p.tok = token{kind: tokRParen, pos: start, text: ")"}
	case isWordByte(c):
		for p.off < len(p.src) && isWordByte(p.src[p.off]) {
			p.off++
		}
		word := p.src[start:p.off]
		kind := keywordOf(word)
		if kind == tokName {
			for i := 0; i < len(word); i++ {
				if !isNameByte(word[i]) {
					return &ExprError{Pos: start, Msg: fmt.Sprintf("invalid segment name %q (names are a-z, 0-9 and _)", word)}
				}
			}
		}
		p.tok = token{kind: kind, pos: start, text: word}
	default:
		return &ExprError{Pos: start, Msg: fmt.Sprintf("unexpected character %q", firstRune(p.src[start:]))}
	}
	return nil
}

func isWordByte(b byte) bool { return isNameByte(b) || 'A' <= b && b <= 'Z' }

// ParseExpr parses src. Errors are *ExprError.
func ParseExpr(src string) (*Expr, error) {
	p := &parser{src: src, seen: map[string]bool{}}
	if err := p.next(); err != nil {
		return nil, err
	}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tokEOF:
	case tokRParen:
		return nil, &ExprError{Pos: p.tok.pos, Msg: `unmatched ")"`}
	default:
		return nil, &ExprError{Pos: p.tok.pos, Msg: fmt.Sprintf(`expected "and", "or" or end of input, found %s`, p.tok.describe())}
	}
	return &Expr{root: root, names: p.names}, nil
}

// parseOr: and {"or" and}.
func (p *parser) parseOr() (*node, error) {
	return p.parseList(tokOr, opOr, (*parser).parseAnd)
}

// parseAnd: not {"and" not}.
func (p *parser) parseAnd() (*node, error) {
	return p.parseList(tokAnd, opAnd, (*parser).parseNot)
}

// parseList parses operands separated by sep into one n-ary node of op,
// flattening operands that are op themselves (from parentheses).
func (p *parser) parseList(sep tokKind, op opKind, operand func(*parser) (*node, error)) (*node, error) {
	first, err := operand(p)
	if err != nil || p.tok.kind != sep {
		return first, err
	}
	n := &node{op: op, pos: first.pos}
	n.kids = appendFlat(n.kids, op, first)
	for p.tok.kind == sep {
		if err := p.next(); err != nil {
			return nil, err
		}
		x, err := operand(p)
		if err != nil {
			return nil, err
		}
		n.kids = appendFlat(n.kids, op, x)
	}
	return n, nil
}

func appendFlat(kids []*node, op opKind, x *node) []*node {
	if x.op == op {
		return append(kids, x.kids...)
	}
	return append(kids, x)
}

// parseNot: "not" not | primary.
func (p *parser) parseNot() (*node, error) {
	if p.tok.kind != tokNot {
		return p.parsePrimary()
	}
	pos := p.tok.pos
	if err := p.enter(pos); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.next(); err != nil {
		return nil, err
	}
	x, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	return &node{op: opNot, pos: pos, kids: []*node{x}}, nil
}

// parsePrimary: name | "(" or ")".
func (p *parser) parsePrimary() (*node, error) {
	switch p.tok.kind {
	case tokName:
		n := &node{op: opName, pos: p.tok.pos, name: p.tok.text, id: -1}
		if !p.seen[n.name] {
			p.seen[n.name] = true
			p.names = append(p.names, n.name)
		}
		return n, p.next()
	case tokLParen:
		open := p.tok.pos
		if err := p.enter(open); err != nil {
			return nil, err
		}
		defer p.leave()
		if err := p.next(); err != nil {
			return nil, err
		}
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		switch p.tok.kind {
		case tokRParen:
		case tokEOF:
			return nil, &ExprError{Pos: p.tok.pos, Msg: fmt.Sprintf(`expected ")" to close "(" at position %d, found end of input`, open)}
		default:
			return nil, &ExprError{Pos: p.tok.pos, Msg: fmt.Sprintf(`expected "and", "or" or ")", found %s`, p.tok.describe())}
		}
		return x, p.next()
	}
	return nil, &ExprError{Pos: p.tok.pos, Msg: "expected a segment name, found " + p.tok.describe()}
}

func (p *parser) enter(pos int) error {
	if p.depth++; p.depth > maxExprDepth {
		return &ExprError{Pos: pos, Msg: fmt.Sprintf("nested deeper than %d levels", maxExprDepth)}
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// Names returns the distinct segment names in the expression, in order of
// first appearance. The caller owns the slice.
func (e *Expr) Names() []string { return append([]string(nil), e.names...) }

// Bind resolves the expression's names against c, for EvalMask, Count and
// Members. An unknown name is an *ExprError at its position; the expression
// is then left as it was. Bind must not run concurrently with evaluations.
func (e *Expr) Bind(c *Catalog) error {
	var leaves []*node
	walkNames(e.root, func(n *node) { leaves = append(leaves, n) })
	for _, n := range leaves {
		if _, ok := c.ID(n.name); !ok {
			return &ExprError{Pos: n.pos, Msg: fmt.Sprintf("unknown segment %q", n.name)}
		}
	}
	for _, n := range leaves {
		n.id, _ = c.ID(n.name)
	}
	e.catalog = c
	return nil
}

func walkNames(n *node, fn func(*node)) {
	if n.op == opName {
		fn(n)
		return
	}
	for _, k := range n.kids {
		walkNames(k, fn)
	}
}

// EvalMask reports whether a user whose memberships are mask matches: bit i
// of mask[i/64] is membership of the segment with catalog id i. Ids beyond
// the mask, and names of an expression that was never bound, are
// non-members. It does not allocate.
func (e *Expr) EvalMask(mask []uint64) bool { return evalMask(e.root, mask) }

func evalMask(n *node, mask []uint64) bool {
	switch n.op {
	case opName:
		w := n.id >> 6
		return n.id >= 0 && w < len(mask) && mask[w]&(1<<(n.id&63)) != 0
	case opNot:
		return !evalMask(n.kids[0], mask)
	case opAnd:
		for _, k := range n.kids {
			if !evalMask(k, mask) {
				return false
			}
		}
		return true
	default: // opOr
		for _, k := range n.kids {
			if evalMask(k, mask) {
				return true
			}
		}
		return false
	}
}

// String returns the expression in canonical form: lower-case keywords,
// single spaces, parentheses only where precedence needs them, and chains
// of the same operator flattened. Parsing it gives the same expression.
func (e *Expr) String() string {
	var b strings.Builder
	writeNode(&b, e.root)
	return b.String()
}

func writeNode(b *strings.Builder, n *node) {
	switch n.op {
	case opName:
		b.WriteString(n.name)
	case opNot:
		b.WriteString("not ")
		writeOperand(b, n.kids[0], n.kids[0].op == opAnd || n.kids[0].op == opOr)
	case opAnd, opOr:
		sep := " and "
		if n.op == opOr {
			sep = " or "
		}
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(sep)
			}
			// and binds tighter than or: only an or inside an and needs parentheses.
			writeOperand(b, k, n.op == opAnd && k.op == opOr)
		}
	}
}

func writeOperand(b *strings.Builder, n *node, paren bool) {
	if paren {
		b.WriteByte('(')
	}
	writeNode(b, n)
	if paren {
		b.WriteByte(')')
	}
}
