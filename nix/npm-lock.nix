# package-lock.json as nixpkgs' importNpmLock needs it: every fetched package with a `resolved`
# URL. npm leaves registry URLs out of a lockfile when `omit-lockfile-registry-resolved` is set (as
# on the machines this project is developed on), and the URL of a registry package follows from
# its name and version; `integrity` stays the hash it is fetched by, so nothing here goes stale.
{ lib }:

let
  registry = "https://registry.npmjs.org";

  # "node_modules/a/node_modules/@s/b" -> "@s/b"; an alias ("string-width-cjs") names its package.
  packageName = path: module: module.name or (lib.last (lib.splitString "node_modules/" path));

  tarballUrl =
    name: version:
    "${registry}/${name}/-/${lib.last (lib.splitString "/" name)}-${version}.tgz";

  withResolved =
    path: module:
    if path == "" || module ? resolved || module ? link || module.inBundle or false || !(module ? integrity) then
      module
    else
      module // { resolved = tarballUrl (packageName path module) module.version; };
in
{
  inherit tarballUrl;

  withRegistryUrls = lock: lock // { packages = lib.mapAttrs withResolved lock.packages; };
}
