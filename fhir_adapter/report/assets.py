"""The style sheet and the small script inlined into every report (no network, no CDN)."""

from __future__ import annotations

CSS = """
:root{--err:#cf222e;--warn:#9a6700;--info:#0969da;--line:#d0d7de;--muted:#57606a;--bg:#f6f8fa}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1f2328;background:#fff}
header.top{padding:16px 24px;border-bottom:1px solid var(--line);background:var(--bg)}
header.top h1{margin:0 0 4px;font-size:20px}
.muted{color:var(--muted)}
main{padding:16px 24px}
section{margin-bottom:24px}
h2{font-size:17px;margin:0 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
.verdict{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;color:#fff}
.verdict.ok{background:#1a7f37}.verdict.bad{background:var(--err)}.verdict.none{background:var(--muted)}
.filters{position:sticky;top:0;z-index:5;background:#fff;border-bottom:1px solid var(--line);padding:8px 24px;display:flex;gap:16px;flex-wrap:wrap;align-items:center}
.filters label{cursor:pointer;white-space:nowrap}
.summary{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:12px}
.summary .box{border:1px solid var(--line);border-radius:6px;padding:8px 12px}
.summary h3{font-size:14px;margin:0 0 6px}
.summary ul{margin:0;padding-left:18px}
.patient{font-size:15px}
.overview{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start}
.graphbox{flex:1 1 100%;min-width:320px;border:1px solid var(--line);border-radius:6px;overflow:auto;max-height:1400px;background:#fff}
#graph{display:block;max-width:100%;height:auto}
#graph text{font-size:11px;text-anchor:middle;fill:#1f2328;paint-order:stroke;stroke:#fff;stroke-width:3px}
#graph text.sub{fill:var(--muted)}
#graph .edge{fill:none;stroke:#8c959f;stroke-width:1.2;opacity:.75}
#graph .edge.hl{stroke:#1f2328;stroke-width:2.2;opacity:1}
#graph circle{stroke:#fff;stroke-width:2}
#graph circle.sev-error{stroke:var(--err);stroke-width:4}
#graph circle.sev-warning{stroke:#d4a72c;stroke-width:4}
#graph .node.hl circle{stroke:#1f2328;stroke-width:4}
.tables{flex:1 1 100%;display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:0 24px}
.tables h2{grid-column:1/-1}
table{border-collapse:collapse;width:100%;margin-bottom:12px}
th,td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}
th{background:var(--bg)}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:grid;align-items:start;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:14px}
.card{border:1px solid var(--line);border-radius:8px;padding:0 0 8px;content-visibility:auto;contain-intrinsic-size:auto 320px;background:#fff}
.card:target{outline:3px solid #1f6feb}
.card.has-error{border-color:var(--err)}.card.has-warning{border-color:#d4a72c}
.card>header{border-top:5px solid;border-radius:8px 8px 0 0;padding:8px 12px;background:var(--bg)}
.card h3{display:inline;font-size:15px;margin:0}
.rtype{color:#fff;border-radius:4px;padding:1px 6px;font-size:12px;font-weight:600}
.chips{margin-top:4px}
.chip{display:inline-block;border:1px solid var(--line);border-radius:10px;padding:0 8px;margin:2px 4px 0 0;font-size:12px;background:#fff}
.chip.sev-error{border-color:var(--err);color:var(--err)}.chip.sev-warning{border-color:#d4a72c;color:var(--warn)}
.ids{font-size:12px;color:var(--muted);margin-top:4px;word-break:break-all}
.narrative{margin:8px 12px;padding:6px 10px;border-left:3px solid var(--line);background:#fbfbfc}
.narrative table{width:auto}
dl.elements{margin:8px 12px}
.row{display:grid;grid-template-columns:150px 1fr;gap:8px;border-bottom:1px dotted #eaeef2;padding:2px 0}
.row dt{color:var(--muted);font-weight:600;word-break:break-word}
.row dt.has-error{color:var(--err)}.row dt.has-warning{color:var(--warn)}
dd{margin:0;min-width:0;word-break:break-word}
dl.sub{margin:0;display:grid;grid-template-columns:auto 1fr;gap:0 8px}
dl.sub dt{color:var(--muted)}
ul.codes,ul.items{margin:0;padding-left:16px}
.sys{font-size:11px;background:#ddf4ff;color:#0550ae;border-radius:4px;padding:0 4px}
code.code{font-weight:600}
.display.none{color:var(--muted);font-style:italic}
.cc-text{color:var(--muted)}
time.date{font-variant-numeric:tabular-nums;background:#fff8c5;border-radius:3px;padding:0 3px}
a.ref{color:#0969da}
.refid,.unresolved{font-size:11px;color:var(--muted)}
.backrefs{margin:6px 12px 0;font-size:12px}
ul.issues{list-style:none;margin:4px 0;padding:0}
ul.card-issues{margin:6px 12px}
li.issue{border-left:4px solid;padding:2px 8px;margin:3px 0;background:#fff;font-size:13px}
li.issue.sev-error{border-color:var(--err);background:#ffebe9}
li.issue.sev-warning{border-color:#d4a72c;background:#fff8c5}
li.issue.sev-information{border-color:var(--info);background:#ddf4ff}
.badge{font-size:11px;font-weight:700;text-transform:uppercase}
.fix{color:var(--muted);font-size:12px}
.pos{font-size:11px;color:var(--muted)}
body.hide-error .issue.sev-error,body.hide-warning .issue.sev-warning,body.hide-information .issue.sev-information{display:none}
body.only-issues .card:not(.has-issues),body.only-issues tr.file[data-valid=true]{display:none}
pre.src{background:var(--bg);padding:6px;overflow:auto;font-size:12px;margin:4px 0}
pre.src span{display:block}
pre.src .hit{background:#ffebe9}
"""

JS = """
(function(){
var body=document.body;
document.querySelectorAll('input[data-sev]').forEach(function(cb){
  cb.addEventListener('change',function(){body.classList.toggle('hide-'+cb.dataset.sev,!cb.checked);});
});
var only=document.getElementById('only-issues');
if(only){only.addEventListener('change',function(){body.classList.toggle('only-issues',only.checked);});}
var graph=document.getElementById('graph');
if(!graph){return;}
var lit=[];
function clear(){lit.forEach(function(e){e.classList.remove('hl');});lit=[];}
function light(id){
  clear();
  graph.querySelectorAll('.edge[data-from="'+id+'"],.edge[data-to="'+id+'"]').forEach(function(e){
    e.classList.add('hl');lit.push(e);});
  var n=graph.querySelector('.node[data-card="'+id+'"]');if(n){n.classList.add('hl');lit.push(n);}
}
graph.addEventListener('mouseover',function(ev){var n=ev.target.closest('.node');if(n){light(n.dataset.card);}});
graph.addEventListener('mouseleave',clear);
window.addEventListener('hashchange',function(){light(location.hash.slice(1));});
})();
"""
