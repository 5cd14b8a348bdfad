package lab

// Verdict is pass or fail, with every reason for a failure.
type Verdict struct {
	Pass     bool     `json:"pass"`
	Reasons  []string `json:"reasons,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}
