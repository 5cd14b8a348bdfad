package webhook

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestParseIntOrPercent(t *testing.T) {
	for _, tc := range []struct {
		in      intstr.IntOrString
		n       int
		percent bool
		wantErr bool
	}{
		{in: intstr.FromInt32(0), n: 0},
		{in: intstr.FromInt32(7), n: 7},
		{in: intstr.FromInt32(-1), wantErr: true},
		{in: intstr.FromString("0%"), n: 0, percent: true},
		{in: intstr.FromString("20%"), n: 20, percent: true},
		{in: intstr.FromString("100%"), n: 100, percent: true},
		{in: intstr.FromString("101%"), wantErr: true},
		{in: intstr.FromString("-5%"), wantErr: true},
		{in: intstr.FromString("+5%"), wantErr: true},
		{in: intstr.FromString("05%"), wantErr: true},
		{in: intstr.FromString("12.5%"), wantErr: true},
		{in: intstr.FromString("%"), wantErr: true},
		{in: intstr.FromString("5"), wantErr: true},
		{in: intstr.FromString(""), wantErr: true},
		{in: intstr.FromString("99999999999999999999%"), wantErr: true},
	} {
		n, percent, err := ParseIntOrPercent(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseIntOrPercent(%s): err = %v, want error %v", tc.in.String(), err, tc.wantErr)
			continue
		}
		if err == nil && (n != tc.n || percent != tc.percent) {
			t.Errorf("ParseIntOrPercent(%s) = %d, %v; want %d, %v", tc.in.String(), n, percent, tc.n, tc.percent)
		}
	}
}
