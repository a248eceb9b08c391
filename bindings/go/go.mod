module agentbudget

go 1.19
