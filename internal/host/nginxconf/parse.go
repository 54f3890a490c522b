package nginxconf

import "fmt"

// Statement is one directive: its name, arguments and, for a block
// directive, the statements inside.
type Statement struct {
	Name  string
	Args  []string
	Line  int
	Block []Statement
}

// Parse splits one configuration file into statements the way nginx's
// ngx_conf_read_token does.
func Parse(file string, data []byte) ([]Statement, error) {
	p := &parser{file: file, data: data, line: 1}
	stmts, err := p.block(0)
	if err != nil {
		return nil, err
	}
	return stmts, nil
}

type parser struct {
	file string
	data []byte
	pos  int
	line int
}

func (p *parser) errorf(line int, format string, args ...any) error {
	return &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// token kinds besides words.
const (
	tokWord = iota
	tokSemi
	tokOpen
	tokClose
	tokEOF
)

func (p *parser) block(depth int) ([]Statement, error) {
	var out []Statement
	var cur *Statement
	for {
		kind, word, line, err := p.next()
		if err != nil {
			return nil, err
		}
		switch kind {
		case tokWord:
			if cur == nil {
				cur = &Statement{Name: word, Line: line}
			} else {
				cur.Args = append(cur.Args, word)
			}
		case tokSemi:
			if cur == nil {
				return nil, p.errorf(line, `unexpected ";"`)
			}
			out = append(out, *cur)
			cur = nil
		case tokOpen:
			if cur == nil {
				return nil, p.errorf(line, `unexpected "{"`)
			}
			if depth >= 64 {
				return nil, p.errorf(line, "blocks nested too deep")
			}
			inner, err := p.block(depth + 1)
			if err != nil {
				return nil, err
			}
			if inner == nil {
				inner = []Statement{}
			}
			cur.Block = inner
			out = append(out, *cur)
			cur = nil
		case tokClose:
			if cur != nil {
				return nil, p.errorf(line, `unexpected "}"`)
			}
			if depth == 0 {
				return nil, p.errorf(line, `unexpected "}"`)
			}
			return out, nil
		case tokEOF:
			if cur != nil {
				return nil, p.errorf(line, `unexpected end of file, expecting ";" or "}"`)
			}
			if depth > 0 {
				return nil, p.errorf(line, `unexpected end of file, expecting "}"`)
			}
			return out, nil
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// next returns the next token. Like nginx, "#" starts a comment only where
// a token would start, quotes group a whole token, and a backslash escapes
// the next character.
func (p *parser) next() (kind int, word string, line int, err error) {
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '\n':
			p.line++
			p.pos++
		case isSpace(c):
			p.pos++
		case c == '#':
			for p.pos < len(p.data) && p.data[p.pos] != '\n' {
				p.pos++
			}
		case c == ';':
			p.pos++
			return tokSemi, "", p.line, nil
		case c == '{':
			p.pos++
			return tokOpen, "", p.line, nil
		case c == '}':
			p.pos++
			return tokClose, "", p.line, nil
		case c == '"' || c == '\'':
			return p.quoted(c)
		default:
			return p.bare()
		}
	}
	return tokEOF, "", p.line, nil
}

func (p *parser) quoted(q byte) (int, string, int, error) {
	start := p.line
	p.pos++
	var b []byte
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		p.pos++
		switch {
		case c == '\\' && p.pos < len(p.data):
			b = p.escape(b)
		case c == q:
			if p.pos < len(p.data) {
				if n := p.data[p.pos]; !isSpace(n) && n != ';' && n != '{' && n != '}' {
					return 0, "", 0, p.errorf(p.line, `unexpected "%c"`, n)
				}
			}
			return tokWord, string(b), start, nil
		default:
			if c == '\n' {
				p.line++
			}
			b = append(b, c)
		}
	}
	return 0, "", 0, p.errorf(start, "unexpected end of file, unterminated quoted string")
}

func (p *parser) bare() (int, string, int, error) {
	start := p.line
	var b []byte
	variable := false
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if isSpace(c) || c == ';' || c == '{' || (c == '}' && !variable) {
			break
		}
		p.pos++
		switch {
		case c == '\\' && p.pos < len(p.data):
			b = p.escape(b)
			continue
		case c == '$' && p.pos < len(p.data) && p.data[p.pos] == '{':
			variable = true
		case c == '}':
			variable = false
		}
		b = append(b, c)
	}
	return tokWord, string(b), start, nil
}

// escape appends the character after a backslash as nginx copies it: \t,
// \r and \n become control characters, \", \' and \\ the character itself,
// anything else stays as written.
func (p *parser) escape(b []byte) []byte {
	n := p.data[p.pos]
	p.pos++
	if n == '\n' {
		p.line++
	}
	switch n {
	case 't':
		return append(b, '\t')
	case 'r':
		return append(b, '\r')
	case 'n':
		return append(b, '\n')
	case '"', '\'', '\\':
		return append(b, n)
	}
	return append(b, '\\', n)
}
