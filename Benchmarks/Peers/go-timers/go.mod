module gotimers

go 1.19
