// The scenario language (schema, loader, runner, fault and replay steps) and the shipped catalog.
// Built by the scenario engine issue; nothing is exported yet.
export {};
