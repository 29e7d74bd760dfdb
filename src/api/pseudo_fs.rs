//! The pseudo filesystem of a [`Vfs`](super::vfs::Vfs): the read-only directories that lead
//! from the root to each mount point.
//!
//! Mounting a backend at `/a/b/c` creates the directories `/a` and `/a/b` here (if they do
//! not exist yet) and a node `c` that refers to the backend; unmounting removes `c` and
//! then every directory on the way up that nothing else needs. Pseudo inodes use fs index 0
//! of the Vfs inode space, counted up from [`ROOT_ID`] and never reused.
//!
//! Requests read the tree on every lookup, getattr and readdir of a pseudo directory,
//! and on every request for the root when a backend is mounted at `/`; mount and umount
//! are rare. So the tree is published through an `ArcSwap`: a reader loads the current
//! tree without taking a lock, and a writer (serialised by its own mutex) copies the tree,
//! changes the copy and publishes it whole. A reader that loaded the previous tree
//! finishes on it, as if it had run just before the change.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::abi::fuse_abi::ROOT_ID;
use crate::api::filesystem::{DirEntry, Entry};
use crate::errno::err;

/// How long the kernel may cache pseudo entries: they change only on mount/umount, which
/// invalidates them explicitly.
const PSEUDO_TTL: Duration = Duration::from_secs(1);

/// One directory of the pseudo tree.
#[derive(Clone, Debug)]
struct Node {
    parent: u64,
    name: CString,
    /// Child directories and mount points, by name.
    children: HashMap<CString, u64>,
    /// The backend mounted here (a Vfs fs index), if any.
    mount: Option<u8>,
}

#[derive(Clone, Debug)]
struct Tree {
    nodes: HashMap<u64, Node>,
    next_ino: u64,
}

/// One node of a saved tree (see `PseudoFs::snapshot`).
#[cfg(feature = "persist")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SavedNode {
    pub ino: u64,
    pub parent: u64,
    pub name: CString,
    pub mount: Option<u8>,
}

/// The pseudo directory tree. Only mount/umount write it; requests read it without a
/// lock (see the module docs).
#[derive(Debug)]
pub struct PseudoFs {
    tree: ArcSwap<Tree>,
    /// Serialises writers, each of which replaces the whole tree.
    writer: Mutex<()>,
}

/// What a lookup in a pseudo directory found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PseudoChild {
    /// Another pseudo directory.
    Dir(u64),
    /// A mount point of the backend with this fs index.
    Mount(u8),
}

fn poisoned<T>(_: T) -> io::Error {
    err(libc::EIO)
}

impl Default for PseudoFs {
    fn default() -> Self {
        Self::new()
    }
}

impl PseudoFs {
    /// A tree with only the root directory.
    pub fn new() -> PseudoFs {
        let mut nodes = HashMap::new();
        nodes.insert(
            ROOT_ID,
            Node {
                parent: ROOT_ID,
                name: CString::default(),
                children: HashMap::new(),
                mount: None,
            },
        );
        PseudoFs {
            tree: ArcSwap::from_pointee(Tree {
                nodes,
                next_ino: ROOT_ID + 1,
            }),
            writer: Mutex::new(()),
        }
    }

    /// Creates the directories of `components` (already validated) and returns the inode of
    /// the last one, which becomes the mount point of `idx`. Fails with EEXIST when something
    /// is already mounted there.
    pub fn mount(&self, components: &[CString], idx: u8) -> io::Result<u64> {
        let _writer = self.writer.lock().map_err(poisoned)?;
        let mut t: Tree = Tree::clone(&self.tree.load());
        let mut cur = ROOT_ID;
        for c in components {
            let existing = t.nodes.get(&cur).and_then(|n| n.children.get(c).copied());
            cur = match existing {
                Some(ino) => ino,
                None => {
                    let ino = t.next_ino;
                    t.next_ino += 1;
                    t.nodes.insert(
                        ino,
                        Node {
                            parent: cur,
                            name: c.clone(),
                            children: HashMap::new(),
                            mount: None,
                        },
                    );
                    if let Some(p) = t.nodes.get_mut(&cur) {
                        p.children.insert(c.clone(), ino);
                    }
                    ino
                }
            };
        }
        let node = t.nodes.get_mut(&cur).ok_or_else(|| err(libc::EIO))?;
        if node.mount.is_some() {
            return Err(err(libc::EEXIST));
        }
        node.mount = Some(idx);
        self.tree.store(Arc::new(t));
        Ok(cur)
    }

    /// Removes the mount at `components`; returns `(fs index, pseudo inode of the mount
    /// point, its parent)`, and prunes directories nothing needs any more.
    pub fn umount(&self, components: &[CString]) -> io::Result<(u8, u64, u64)> {
        let _writer = self.writer.lock().map_err(poisoned)?;
        let mut t: Tree = Tree::clone(&self.tree.load());
        let mut cur = ROOT_ID;
        for c in components {
            cur = t
                .nodes
                .get(&cur)
                .and_then(|n| n.children.get(c).copied())
                .ok_or_else(|| err(libc::ENOENT))?;
        }
        let node = t.nodes.get_mut(&cur).ok_or_else(|| err(libc::ENOENT))?;
        let idx = node.mount.take().ok_or_else(|| err(libc::EINVAL))?;
        let parent = node.parent;
        // Prune upwards: a node with no children and no mount is not needed.
        let mut ino = cur;
        while ino != ROOT_ID {
            let Some(n) = t.nodes.get(&ino) else { break };
            if !n.children.is_empty() || n.mount.is_some() {
                break;
            }
            let (p, name) = (n.parent, n.name.clone());
            t.nodes.remove(&ino);
            if let Some(pn) = t.nodes.get_mut(&p) {
                pn.children.remove(&name);
            }
            ino = p;
        }
        self.tree.store(Arc::new(t));
        Ok((idx, cur, parent))
    }

    /// Whether `ino` is a pseudo directory.
    pub fn contains(&self, ino: u64) -> bool {
        self.tree.load().nodes.contains_key(&ino)
    }

    /// The backend mounted at pseudo directory `ino`, if any.
    pub fn mount_at(&self, ino: u64) -> Option<u8> {
        self.tree.load().nodes.get(&ino)?.mount
    }

    /// Looks up `name` in pseudo directory `parent`.
    pub fn lookup(&self, parent: u64, name: &CStr) -> io::Result<PseudoChild> {
        let t = self.tree.load();
        let node = t.nodes.get(&parent).ok_or_else(|| err(libc::ENOENT))?;
        let child = match name.to_bytes() {
            b"." => parent,
            b".." => node.parent,
            _ => *node.children.get(name).ok_or_else(|| err(libc::ENOENT))?,
        };
        match t.nodes.get(&child).and_then(|n| n.mount) {
            Some(idx) => Ok(PseudoChild::Mount(idx)),
            None => Ok(PseudoChild::Dir(child)),
        }
    }

    /// The parent of pseudo directory `ino`.
    pub fn parent(&self, ino: u64) -> io::Result<u64> {
        let t = self.tree.load();
        t.nodes
            .get(&ino)
            .map(|n| n.parent)
            .ok_or_else(|| err(libc::ENOENT))
    }

    /// Attributes of pseudo directory `ino`: a read-only directory owned by root.
    pub fn getattr(&self, ino: u64) -> io::Result<(libc::stat64, Duration)> {
        let t = self.tree.load();
        let node = t.nodes.get(&ino).ok_or_else(|| err(libc::ENOENT))?;
        Ok((dir_attr(ino, 2 + node.children.len() as u64), PSEUDO_TTL))
    }

    /// A lookup reply for pseudo directory `ino`.
    pub fn entry(&self, ino: u64) -> io::Result<Entry> {
        let (attr, ttl) = self.getattr(ino)?;
        Ok(Entry {
            inode: ino,
            generation: 0,
            attr,
            attr_flags: 0,
            attr_timeout: ttl,
            entry_timeout: ttl,
        })
    }

    /// Lists pseudo directory `ino` from `offset`: ".", "..", then the children by name.
    /// `child_ino` maps a child to the inode number the kernel knows it by.
    pub fn readdir(
        &self,
        ino: u64,
        offset: u64,
        child_ino: &dyn Fn(PseudoChild) -> u64,
        add_entry: &mut dyn FnMut(DirEntry) -> io::Result<usize>,
    ) -> io::Result<()> {
        let (parent, mut children) = {
            let t = self.tree.load();
            let node = t.nodes.get(&ino).ok_or_else(|| err(libc::ENOENT))?;
            let children: Vec<(CString, PseudoChild)> = node
                .children
                .iter()
                .map(|(name, c)| {
                    let kind = match t.nodes.get(c).and_then(|n| n.mount) {
                        Some(idx) => PseudoChild::Mount(idx),
                        None => PseudoChild::Dir(*c),
                    };
                    (name.clone(), kind)
                })
                .collect();
            (node.parent, children)
        };
        // A stable order, so offsets mean the same thing across calls.
        children.sort_by(|a, b| a.0.cmp(&b.0));
        let mut all: Vec<(u64, &[u8])> = vec![(ino, b"."), (parent, b"..")];
        all.extend(children.iter().map(|(n, c)| (child_ino(*c), n.to_bytes())));
        for (i, (ino, name)) in all.into_iter().enumerate().skip(offset as usize) {
            let added = add_entry(DirEntry {
                ino,
                offset: i as u64 + 1,
                type_: libc::DT_DIR as u32,
                name,
            })?;
            if added == 0 {
                break;
            }
        }
        Ok(())
    }
}

fn dir_attr(ino: u64, nlink: u64) -> libc::stat64 {
    // SAFETY: `stat64` is plain integers, for which all-zero bytes are a valid value.
    let mut st: libc::stat64 = unsafe { std::mem::zeroed() };
    st.st_ino = ino;
    st.st_mode = libc::S_IFDIR | 0o755;
    st.st_nlink = nlink;
    st.st_blksize = 4096;
    st
}

/// Saving and restoring the tree, for [`Vfs`](super::vfs::Vfs) persistence.
#[cfg(feature = "persist")]
impl PseudoFs {
    /// Every node (root included) and the next inode number, for saving the tree.
    pub(crate) fn snapshot(&self) -> io::Result<(u64, Vec<SavedNode>)> {
        let t = self.tree.load();
        let mut nodes: Vec<SavedNode> = t
            .nodes
            .iter()
            .map(|(&ino, n)| SavedNode {
                ino,
                parent: n.parent,
                name: n.name.clone(),
                mount: n.mount,
            })
            .collect();
        nodes.sort_by_key(|n| n.ino);
        Ok((t.next_ino, nodes))
    }

    /// Replaces the tree with saved nodes. Fails with EINVAL, leaving the tree as it was,
    /// unless the nodes form a tree under [`ROOT_ID`]: one root, unique inodes below
    /// `next_ino`, every other node's parent present and its name unique there and a
    /// valid path component.
    pub(crate) fn restore(&self, next_ino: u64, saved: Vec<SavedNode>) -> io::Result<()> {
        let mut nodes: HashMap<u64, Node> = HashMap::with_capacity(saved.len());
        for n in &saved {
            if n.ino == 0 || n.ino >= next_ino || nodes.contains_key(&n.ino) {
                return Err(err(libc::EINVAL));
            }
            if n.ino == ROOT_ID {
                if n.parent != ROOT_ID || !n.name.is_empty() {
                    return Err(err(libc::EINVAL));
                }
            } else {
                crate::api::vfs::validate_path_component(&n.name)?;
            }
            nodes.insert(
                n.ino,
                Node {
                    parent: n.parent,
                    name: n.name.clone(),
                    children: HashMap::new(),
                    mount: n.mount,
                },
            );
        }
        if !nodes.contains_key(&ROOT_ID) {
            return Err(err(libc::EINVAL));
        }
        for n in saved.iter().filter(|n| n.ino != ROOT_ID) {
            let p = nodes.get_mut(&n.parent).ok_or_else(|| err(libc::EINVAL))?;
            if p.children.insert(n.name.clone(), n.ino).is_some() {
                return Err(err(libc::EINVAL));
            }
        }
        // Every node must reach the root (no cycles among non-root nodes).
        for &start in nodes.keys() {
            let (mut cur, mut steps) = (start, 0usize);
            while cur != ROOT_ID {
                cur = nodes[&cur].parent;
                steps += 1;
                if steps > nodes.len() {
                    return Err(err(libc::EINVAL));
                }
            }
        }
        let _writer = self.writer.lock().map_err(poisoned)?;
        self.tree.store(Arc::new(Tree { nodes, next_ino }));
        Ok(())
    }

    /// The absolute path of pseudo directory `ino` ("/" for the root).
    pub(crate) fn path_of(&self, ino: u64) -> Option<String> {
        let t = self.tree.load();
        let mut parts = Vec::new();
        let mut cur = ino;
        while cur != ROOT_ID {
            let n = t.nodes.get(&cur)?;
            parts.push(n.name.to_str().ok()?.to_string());
            cur = n.parent;
            if parts.len() > t.nodes.len() {
                return None;
            }
        }
        parts.reverse();
        Some(format!("/{}", parts.join("/")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Vec<CString> {
        p.split('/')
            .filter(|c| !c.is_empty())
            .map(|c| CString::new(c).unwrap())
            .collect()
    }

    #[test]
    fn mount_creates_and_umount_prunes() {
        let fs = PseudoFs::new();
        let c = fs.mount(&path("/a/b/c"), 3).unwrap();
        let a = match fs.lookup(ROOT_ID, c"a").unwrap() {
            PseudoChild::Dir(i) => i,
            other => panic!("{other:?}"),
        };
        let b = match fs.lookup(a, c"b").unwrap() {
            PseudoChild::Dir(i) => i,
            other => panic!("{other:?}"),
        };
        assert_eq!(fs.lookup(b, c"c").unwrap(), PseudoChild::Mount(3));
        assert_eq!(fs.lookup(b, c"..").unwrap(), PseudoChild::Dir(a));
        assert_eq!(fs.mount_at(c), Some(3));
        // A second mount on /a/x keeps /a alive after /a/b/c goes.
        fs.mount(&path("/a/x"), 4).unwrap();
        assert_eq!(
            fs.mount(&path("/a/x"), 5).unwrap_err().raw_os_error(),
            Some(libc::EEXIST)
        );
        let (idx, ino, parent) = fs.umount(&path("/a/b/c")).unwrap();
        assert_eq!((idx, ino, parent), (3, c, b));
        assert!(!fs.contains(b));
        assert!(fs.contains(a));
        assert_eq!(
            fs.lookup(a, c"b").unwrap_err().raw_os_error(),
            Some(libc::ENOENT)
        );
        fs.umount(&path("/a/x")).unwrap();
        assert!(!fs.contains(a));
        assert!(fs.contains(ROOT_ID));
        assert_eq!(
            fs.umount(&path("/a/x")).unwrap_err().raw_os_error(),
            Some(libc::ENOENT)
        );
    }

    #[test]
    fn readdir_is_sorted_and_resumable() {
        let fs = PseudoFs::new();
        fs.mount(&path("/b"), 1).unwrap();
        fs.mount(&path("/a/deep"), 2).unwrap();
        let mut names = Vec::new();
        fs.readdir(ROOT_ID, 0, &|_| 99, &mut |d| {
            names.push((String::from_utf8(d.name.to_vec()).unwrap(), d.offset));
            Ok(1)
        })
        .unwrap();
        let just: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(just, [".", "..", "a", "b"]);
        let mut rest = Vec::new();
        fs.readdir(ROOT_ID, names[2].1, &|_| 99, &mut |d| {
            rest.push(d.name.to_vec());
            Ok(1)
        })
        .unwrap();
        assert_eq!(rest, [b"b".to_vec()]);
    }
}
