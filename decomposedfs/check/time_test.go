package check_test

import "time"

func timeZero() time.Time { return time.Time{} }
