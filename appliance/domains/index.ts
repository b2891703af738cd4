// The reference domains the appliance runs and measures: the public surface of appliance/domains.
export { person, type PersonState } from './person.js';
