package webhook

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// ParseIntOrPercent parses a replicas-relative count as CloneSet fields
// (partition, maxUnavailable, maxSurge, scaleStrategy.maxUnavailable) take
// it: a non-negative integer, or a whole percentage from "0%" to "100%".
// It returns the number and whether it is a percentage.
func ParseIntOrPercent(v intstr.IntOrString) (n int, percent bool, err error) {
	switch v.Type {
	case intstr.Int:
		if v.IntVal < 0 {
			return 0, false, errors.New("must be greater than or equal to 0")
		}
		return int(v.IntVal), false, nil
	case intstr.String:
		digits, ok := strings.CutSuffix(v.StrVal, "%")
		// Digits only, no leading zero: the CRD's pattern, which Atoi alone
		// would not enforce ("+5", "-0", "05").
		if !ok || digits == "" || strings.TrimLeft(digits, "0123456789") != "" ||
			(len(digits) > 1 && digits[0] == '0') {
			return 0, false, errors.New(`must be an integer or a percentage such as "20%"`)
		}
		p, err := strconv.Atoi(digits)
		if err != nil || p > 100 {
			return 0, false, errors.New("a percentage must be between 0% and 100%")
		}
		return p, true, nil
	default:
		return 0, false, fmt.Errorf("unknown int-or-string type %d", v.Type)
	}
}
