package store

import (
	"fmt"
	"sort"
	"strings"
)

// SchemaDrift compares every model with the table the migrations built and returns, per table,
// what differs. Empty means the models and the migrations agree; a test keeps it empty, so a
// model cannot change without a migration.
func (s *Store) SchemaDrift() map[string]string {
	return s.SchemaDriftOf(models()...)
}

// SchemaDriftOf is SchemaDrift for the given models.
func (s *Store) SchemaDriftOf(models ...any) map[string]string {
	drift := map[string]string{}
	for _, m := range models {
		stmt := s.db.Model(m).Statement
		if err := stmt.Parse(m); err != nil {
			drift[fmt.Sprintf("%T", m)] = "parse model: " + err.Error()
			continue
		}
		table := stmt.Schema.Table
		cols, err := s.db.Migrator().ColumnTypes(m)
		if err != nil {
			drift[table] = "read columns: " + err.Error()
			continue
		}
		inTable := map[string]bool{}
		for _, c := range cols {
			inTable[c.Name()] = true
		}
		inModel := map[string]bool{}
		for _, f := range stmt.Schema.Fields {
			if f.DBName != "" {
				inModel[f.DBName] = true
			}
		}
		var problems []string
		for name := range inModel {
			if !inTable[name] {
				problems = append(problems, "column "+name+" is in the model but not the table")
			}
		}
		for name := range inTable {
			if !inModel[name] {
				problems = append(problems, "column "+name+" is in the table but not the model")
			}
		}
		if len(problems) > 0 {
			sort.Strings(problems)
			drift[table] = strings.Join(problems, "; ")
		}
	}
	return drift
}
