# The appliance as a Nix package: `bin/cim` with nats-server on its PATH. Dependencies come from
# package-lock.json through importNpmLock, each fetched by the lockfile's own integrity hash, so
# no npmDepsHash can go stale; better-sqlite3 is compiled from source in the sandbox.
{
  lib,
  buildNpmPackage,
  importNpmLock,
  nodejs_22,
  nats-server,
  # Node 22 (LTS, maintained by nixpkgs): nixpkgs marks Node 20 end of life and insecure.
  nodejs ? nodejs_22,
}:

let
  npmLock = import ./npm-lock.nix { inherit lib; };
  packageJson = lib.importJSON ../package.json;
in
buildNpmPackage {
  pname = "cim-appliance";
  inherit (packageJson) version;
  inherit nodejs;

  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../package.json
      ../package-lock.json
      ../tsconfig.json
      ../tsconfig.build.json
      ../cli
      ../appliance
      ../bench
      ../scenarios
      ../compliance
      ../reports
    ];
  };

  npmDeps = importNpmLock {
    package = packageJson;
    packageLock = npmLock.withRegistryUrls (lib.importJSON ../package-lock.json);
  };
  # The hook compiles native modules against the headers of its Node.js (nixpkgs' default unless
  # overridden), which must be the Node.js that runs them.
  npmConfigHook = importNpmLock.npmConfigHook.override { inherit nodejs; };

  # better-sqlite3: no prebuilt binary download in the sandbox, node-gyp builds it (python from nodejs).
  env.npm_config_build_from_source = "true";

  # `npm pack` (which lists the files to install) would run `prepare`, a second build.
  npmPackFlags = [ "--ignore-scripts" ];

  # nixpkgs' nats-server is the embedded cluster's unless a run asks for another
  # (`--nats-server VERSION|PATH` or a NATS_SERVER_BIN of the user's own).
  makeWrapperArgs = [
    "--prefix"
    "PATH"
    ":"
    (lib.makeBinPath [ nats-server ])
    "--set-default"
    "NATS_SERVER_BIN"
    (lib.getExe nats-server)
  ];

  doInstallCheck = true;
  installCheckPhase = ''
    runHook preInstallCheck
    $out/bin/cim --version
    # better-sqlite3 loads its addon lazily: open a database to prove it matches this Node.js.
    ${lib.getExe nodejs} -e 'new (require(process.argv[1]))(":memory:").close()' \
      $out/lib/node_modules/cim-appliance/node_modules/better-sqlite3
    $out/bin/cim nats-config --server-name check --store-dir /tmp/check --check > /dev/null
    runHook postInstallCheck
  '';

  meta = {
    description = "Benchmarking and compliance appliance for event-sourced services on NATS JetStream";
    license = lib.licenses.mit;
    mainProgram = "cim";
    platforms = [
      "x86_64-linux"
      "aarch64-linux"
    ];
  };
}
