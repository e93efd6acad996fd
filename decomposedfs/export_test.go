package decomposedfs

// UserOf is the user a context acts for ("" for none), for the tests.
var UserOf = userOf
