package sidecarset

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// celLiteral writes v, a Kubernetes API value, as CEL source that builds
// it: a struct becomes a typed object construction named by its place in
// the pod (Object.spec.containers{name: ..., ports: [Object.spec.containers.ports{...}]}),
// as the API server's MutatingAdmissionPolicy type checker requires (its
// aggregate literals must be homogeneous, which rules out JSON-like maps of
// mixed values); a map becomes a map literal; a value with its own JSON form
// (quantities, int-or-strings) that JSON's scalar. Zero fields are left out,
// as the JSON decoder reads them as zero anyway. Written by hand because
// neither cel-go nor the API server offers a Go value → CEL printer.
func celLiteral(v any, typePath string) (string, error) {
	var b strings.Builder
	if err := writeLiteral(&b, reflect.ValueOf(v), typePath); err != nil {
		return "", err
	}
	return b.String(), nil
}

var jsonMarshaler = reflect.TypeFor[json.Marshaler]()

func writeLiteral(b *strings.Builder, v reflect.Value, path string) error {
	if v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			b.WriteString("null")
			return nil
		}
		if !v.Type().Implements(jsonMarshaler) || v.Kind() == reflect.Interface {
			return writeLiteral(b, v.Elem(), path)
		}
	}
	if v.Type().Implements(jsonMarshaler) && v.Kind() != reflect.Slice && v.Kind() != reflect.Map {
		raw, err := json.Marshal(v.Interface())
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		var scalar any
		if err := json.Unmarshal(raw, &scalar); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		switch s := scalar.(type) {
		case string:
			b.WriteString(celString(s))
		case float64:
			b.WriteString(strconv.FormatInt(int64(s), 10))
		default:
			return fmt.Errorf("%s: no CEL literal for %s", path, raw)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		b.WriteString(celString(v.String()))
	case reflect.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		b.WriteString(strconv.FormatUint(v.Uint(), 10) + "u")
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 { // []byte is base64 in JSON
			raw, _ := json.Marshal(v.Interface())
			var s string
			_ = json.Unmarshal(raw, &s)
			b.WriteString(celString(s))
			return nil
		}
		b.WriteByte('[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writeLiteral(b, v.Index(i), path); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(celString(k.String()) + ": ")
			if err := writeLiteral(b, v.MapIndex(k), path+"."+k.String()); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case reflect.Struct:
		var fields []string
		if err := structFields(v, path, &fields); err != nil {
			return err
		}
		b.WriteString(path + "{" + strings.Join(fields, ", ") + "}")
	default:
		return fmt.Errorf("%s: no CEL literal for %s", path, v.Type())
	}
	return nil
}

// structFields renders v's non-zero fields as "jsonName: value", inline
// (embedded) structs' fields among them.
func structFields(v reflect.Value, path string, out *[]string) error {
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		fv := v.Field(i)
		if strings.Contains(opts, "inline") || (f.Anonymous && name == "") {
			if err := structFields(fv, path, out); err != nil {
				return err
			}
			continue
		}
		if fv.IsZero() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if celReserved[name] {
			name = "__" + name + "__" // how Kubernetes' CEL names such fields
		}
		var b strings.Builder
		if err := writeLiteral(&b, fv, path+"."+name); err != nil {
			return err
		}
		*out = append(*out, name+": "+b.String())
	}
	return nil
}

// celReserved are CEL's reserved words; a field of that name is spelled
// __name__ in Kubernetes' CEL.
var celReserved = map[string]bool{"as": true, "break": true, "const": true, "continue": true, "else": true,
	"false": true, "for": true, "function": true, "if": true, "import": true, "in": true, "let": true,
	"loop": true, "package": true, "namespace": true, "null": true, "return": true, "true": true,
	"var": true, "void": true, "while": true}

// celString quotes s for CEL: Go's quoting uses escapes (\", \\, \n, \t,
// \xNN, \uNNNN, \UNNNNNNNN) that CEL's double-quoted strings read the same.
func celString(s string) string { return strconv.Quote(s) }

// jsonPointerEscape escapes one JSON Pointer segment (RFC 6901).
func jsonPointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
