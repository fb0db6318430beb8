// Renders mermaid diagrams to SVG in one headless Chromium (Debian's, not puppeteer's download).
// stdin: JSON [{"id": "...", "source": "..."}]; stdout: JSON {"<id>": "<svg …>" or {"error": "…"}}.
// Called by overrides/hooks/diagrams.py, which caches each SVG by the hash of its source.
//
// mermaid-cli's renderMermaid() opens a page and loads mermaid into it for every diagram; this loads
// the mermaid that mermaid-cli installs once, in one page, and renders every diagram there the way
// renderMermaid does (mermaid.render, then XMLSerializer so that <br> in labels is valid XML).
import path from "node:path"
import { fileURLToPath } from "node:url"
import puppeteer from "puppeteer"

const chromium = process.env.MERMAID_CHROMIUM || "/usr/bin/chromium"
const mermaidConfig = JSON.parse(process.env.MERMAID_CONFIG || "{}")
const mermaidJs = path.join(path.dirname(fileURLToPath(import.meta.resolve("mermaid"))), "mermaid.min.js")

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const diagrams = JSON.parse(Buffer.concat(chunks).toString("utf8"))

const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  // --no-sandbox: the build runs as root in CI, where Chromium's sandbox cannot start
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
})
const out = {}
try {
  const page = await browser.newPage()
  await page.setContent('<!doctype html><html><head><meta charset="utf-8"></head><body><div id="container"></div></body></html>')
  await page.addScriptTag({ path: mermaidJs })
  await page.evaluate((config) => globalThis.mermaid.initialize({ startOnLoad: false, ...config }), mermaidConfig)
  for (const { id, source } of diagrams) {
    out[id] = await page.evaluate(async (id, source) => {
      const container = document.getElementById("container")
      try {
        const { svg } = await globalThis.mermaid.render(id, source, container)
        container.innerHTML = svg
        const element = container.querySelector("svg")
        element.style.backgroundColor = "transparent"
        return new XMLSerializer().serializeToString(element)
      } catch (error) {
        return { error: String((error && error.message) || error).replace(/\s+/g, " ").slice(0, 240) }
      } finally {
        container.innerHTML = ""
      }
    }, id, source)
  }
} finally {
  await browser.close()
}
process.stdout.write(JSON.stringify(out))
