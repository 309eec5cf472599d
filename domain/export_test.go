package domain

// WhatApplies exposes the NOT_ELIGIBLE messages to the black-box tests.
func WhatApplies() map[SupportCase]string { return whatApplies }
